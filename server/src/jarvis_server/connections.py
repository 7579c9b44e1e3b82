"""uvicorn's HTTP protocol with the two connection deadlines it lacks.

- Headers: a request's headers must be complete within `header_timeout` of the connection
  opening, or of the previous response. uvicorn's keep-alive timer is cancelled by the first byte
  received and never armed for a new connection (uvicorn issue #157, "--timeout-request-start",
  is still open), so a client that sends nothing, or half a request line, held its connection for
  ever. ASGI middleware cannot help: the app is called only once the headers are complete.
- Writes: once the socket's buffers are full because the client stopped reading, the connection
  is dropped after `send_timeout` without progress. Until then a response's `send` waited for
  ever, pinning the response's task, its open file and the socket.

Both are asyncio protocol callbacks on uvicorn's httptools protocol (the `http="httptools"`
implementation `serve` runs); uvicorn takes such a class through its `http` option.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["guarded_protocol"]

log = structlog.get_logger(__name__)


class _GuardedProtocol(HttpToolsProtocol):
    header_timeout: float = 10.0
    send_timeout: float = 30.0
    on_lost: Callable[[], None] | None = None  # told after each connection ends

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._send_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_timer()
        self._stop_send_timer()
        super().connection_lost(exc)
        if self.on_lost is not None:
            self.on_lost()

    def on_headers_complete(self) -> None:
        self._stop_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        # Waiting for the next request's headers again, unless one is already queued (which
        # uvicorn starts now).
        queued = bool(self.pipeline)
        super().on_response_complete()
        if not queued and not self.transport.is_closing():
            self._arm_header_timer()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._send_timer is None:
            self._send_timer = self.loop.call_later(self.send_timeout, self._stalled_reader)

    def resume_writing(self) -> None:
        self._stop_send_timer()
        super().resume_writing()

    def _stop_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _stop_send_timer(self) -> None:
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None

    def _arm_header_timer(self) -> None:
        self._stop_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        # Debug only: a flood of such connections must not become a flood of log lines.
        log.debug("closed a connection that sent no complete request headers", client=self.client)
        self.transport.abort()

    def _stalled_reader(self) -> None:
        self._send_timer = None
        log.info("dropped a client that stopped reading its response", client=self.client)
        # abort, not close: close would wait for the unread buffer to drain, which never happens.
        self.transport.abort()


def guarded_protocol(
    *,
    header_timeout: float,
    send_timeout: float,
    on_lost: Callable[[], None] | None = None,
) -> type[asyncio.Protocol]:
    """The protocol class to give uvicorn.Config(http=...), with these deadlines in seconds;
    `on_lost` is called after each connection ends."""
    return type(
        "GuardedHttpToolsProtocol",
        (_GuardedProtocol,),
        {
            "header_timeout": header_timeout,
            "send_timeout": send_timeout,
            "on_lost": staticmethod(on_lost) if on_lost is not None else None,
        },
    )
