"""One pooled HTTP client that uploads captures and says what each reply means.

`classify` is the pure decision (status + headers + body -> outcome); `Uploader` is the thin
driver around httpx. Transport errors (refused, reset, timed out, reply cut short) become
"retry" outcomes here, so nothing above this module sees an httpx exception.

Before the token leaves, every request checks the destination (`jarvis_sync.trust`): an address
the rule refuses, or a loopback port held by someone else, gets an "untrusted" outcome and no
byte is sent. That holds even when the URL came from a hand-edited config file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import ValidationError

from jarvis_contract import (
    CAPTURES_PATH,
    EXTENSIONS,
    IDEMPOTENCY_HEADER,
    CaptureMetadata,
    Problem,
)
from jarvis_sync.errors import LoginError
from jarvis_sync.retry import parse_retry_after
from jarvis_sync.trust import (
    is_loopback_http,
    listener_uids,
    owner_problem,
    prove_identity,
    unknown_owner_problem,
    url_problem,
)

OutcomeKind = Literal["done", "retry", "auth", "dead", "untrusted"]

DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=30.0)
_DEAD_STATUSES: Final = frozenset({400, 413, 415, 422})
_AUTH_STATUSES: Final = frozenset({401, 403})
_MAX_DETAIL: Final = 500


@dataclass(frozen=True, slots=True)
class UploadOutcome:
    """What one upload attempt came to, and why (never contains the token)."""

    kind: OutcomeKind
    status: int | None
    detail: str
    retry_after: float | None = None


def _problem_text(status: int, body: bytes) -> str:
    try:
        problem = Problem.model_validate(json.loads(body))
    except (ValueError, ValidationError):
        text = body[:200].decode("utf-8", "replace").strip()
        return f"HTTP {status}" + (f": {text}" if text else "")
    text = f"HTTP {status} {problem.title}"
    if problem.detail:
        text += f": {problem.detail}"
    return text[:_MAX_DETAIL]


def classify(status: int, headers: httpx.Headers, body: bytes) -> UploadOutcome:
    """The meaning of a server reply to an upload (pure)."""
    if status in (200, 201):
        return UploadOutcome("done", status, "stored" if status == 201 else "already stored")
    detail = _problem_text(status, body)
    if status in _AUTH_STATUSES:
        return UploadOutcome("auth", status, detail)
    if status in _DEAD_STATUSES:
        return UploadOutcome("dead", status, detail)
    retry_after = parse_retry_after(headers.get("retry-after"))
    if status == 404:
        detail += " (is server.url the Jarvis server's address?)"
    # 408, 429, 5xx and anything unexpected: the capture is not at fault, so keep it and retry.
    return UploadOutcome("retry", status, detail, retry_after)


def _transport_detail(exc: httpx.TransportError) -> str:
    kinds: dict[type[httpx.TransportError], str] = {
        httpx.ConnectError: "cannot connect to the server",
        httpx.ConnectTimeout: "connecting to the server timed out",
        httpx.ReadTimeout: "the server did not answer in time",
        httpx.WriteTimeout: "sending to the server timed out",
        httpx.PoolTimeout: "no free connection to the server",
        httpx.RemoteProtocolError: "the connection was cut before the server's reply was complete",
        httpx.ReadError: "the connection broke while reading the reply",
        httpx.WriteError: "the connection broke while sending",
    }
    for kind, text in kinds.items():
        if isinstance(exc, kind):
            return text
    return f"network error ({type(exc).__name__})"


class Uploader:
    """Uploads captures to one server over a pooled, thread-safe httpx client."""

    def __init__(
        self,
        server_url: str,
        *,
        max_connections: int = 4,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
        allow_insecure_http: bool = False,
        identity_key: bytes | None = None,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self._url_problem = url_problem(self.server_url, allow_insecure_http=allow_insecure_http)
        self._local_port = (
            urlsplit(self.server_url).port or 80 if is_loopback_http(self.server_url) else None
        )
        self._identity_key = identity_key
        self._client = httpx.Client(
            base_url=self.server_url,
            timeout=timeout,
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
            transport=transport,
            follow_redirects=False,
            headers={"User-Agent": "jarvis-agent"},
        )

    def _refusal(self) -> UploadOutcome | None:
        """What stops the token from going out now (None: it may). See `jarvis_sync.trust`."""
        if self._url_problem is not None:
            return UploadOutcome("untrusted", None, self._url_problem)
        port = self._local_port
        if port is None:
            return None  # https
        uids = listener_uids(port)
        if uids is not None:
            if not uids:  # our server is down: an outage, not a stranger
                return UploadOutcome(
                    "retry", None, f"cannot connect to the server: nothing listens on port {port}"
                )
            # The kernel names the owner of the socket: checked before every request, so a
            # stranger who takes the port after our server stopped is caught too.
            problem = owner_problem(port, uids)
            return None if problem is None else UploadOutcome("untrusted", None, problem)
        if self._identity_key is None:
            return UploadOutcome("untrusted", None, unknown_owner_problem(port))
        # Before every request, not once: a stranger may take the port between two uploads
        # after our server stopped. The challenge is a small GET on the same pooled connection.
        problem = prove_identity(self._client, self._identity_key, port)
        return None if problem is None else UploadOutcome("untrusted", None, problem)

    def destination_problem(self) -> str | None:
        """Why the server may not be sent the token now (None: it may)."""
        refusal = self._refusal()
        return None if refusal is None else refusal.detail

    def upload(self, token: str, metadata: CaptureMetadata, data: bytes) -> UploadOutcome:
        """Send one capture; the outcome says whether it is stored, to retry, or refused."""
        refusal = self._refusal()
        if refusal is not None:
            return refusal
        name = f"{metadata.id}.{EXTENSIONS[metadata.mime_type]}"
        try:
            response = self._client.post(
                CAPTURES_PATH,
                headers={
                    "Authorization": f"Bearer {token}",
                    IDEMPOTENCY_HEADER: str(metadata.id),
                },
                files={"file": (name, data, metadata.mime_type)},
                data={"metadata": metadata.model_dump_json()},
            )
        except httpx.TransportError as exc:
            return UploadOutcome("retry", None, _transport_detail(exc))
        return classify(response.status_code, response.headers, response.content)

    def check_token(self, token: str) -> None:
        """Ask the server whether it accepts `token`; LoginError with the reason if not."""
        refused = self.destination_problem()
        if refused is not None:
            raise LoginError(refused)
        try:
            response = self._client.get(
                CAPTURES_PATH, params={"limit": 1}, headers={"Authorization": f"Bearer {token}"}
            )
        except httpx.TransportError as exc:
            raise LoginError(
                f"{_transport_detail(exc)} at {self.server_url}; check the address and that "
                "the server is running"
            ) from exc
        if response.status_code == 200:
            return
        detail = _problem_text(response.status_code, response.content)
        if response.status_code == 401:
            raise LoginError(
                f"the server refused the token ({detail}); create a new device token on the "
                "server (`jarvis-server token create DEVICE`) and try again"
            )
        if response.status_code == 403:
            raise LoginError(
                f"the server knows the token but refuses it ({detail}); it may be revoked: "
                "ask for a new device token"
            )
        if response.status_code == 404:
            raise LoginError(
                f"{self.server_url} has no Jarvis capture API ({detail}); check the server address"
            )
        raise LoginError(f"the server at {self.server_url} answered {detail}; try again later")

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()
