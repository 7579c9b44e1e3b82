"""The sync worker's client: a `ServerClient` with a pool sized for concurrent uploads.

What each reply means lives in `jarvis_sync.replies` (`classify`); the request, the trust rule
applied before the token leaves, and the translation of transport errors into "retry" outcomes
live in `jarvis_sync.client`. That holds even when the URL came from a hand-edited config file.
"""

from __future__ import annotations

import httpx

from jarvis_sync.client import DEFAULT_TIMEOUT, ServerClient

__all__ = ["Uploader"]


class Uploader(ServerClient):
    """Uploads captures to one server over a pooled, thread-safe client (4 connections)."""

    def __init__(
        self,
        server_url: str,
        *,
        max_connections: int = 4,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        allow_insecure_http: bool = False,
        identity_key: bytes | None = None,
    ) -> None:
        super().__init__(
            server_url,
            timeout=timeout,
            max_connections=max_connections,
            transport=transport,
            allow_insecure_http=allow_insecure_http,
            identity_key=identity_key,
        )
