"""ASGI middleware for request bodies: an over-limit Content-Length is refused before a byte of
the body is read (413), and a body that stops arriving is answered with 408.

Before, such a request was refused only after authentication, by draining its body: a request
declaring 99999999999999 bytes and sending none waited for ever, as did an upload whose client
stopped sending half way.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jarvis_contract import ProblemType
from jarvis_server.errors import JarvisServerError
from jarvis_server.problems import problem_response

__all__ = ["BodyGuard"]

_CLOSE = {"Connection": "close"}


class _BodyTimeout(JarvisServerError):
    """The client sent no more of the request body within the timeout."""


class BodyGuard:
    """Refuse bodies declared larger than `max_body_bytes`; give each piece of a body
    `body_timeout` seconds to arrive."""

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int, body_timeout: float
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body_bytes:
            # Answered before a byte of the body is read. The connection stays open so that
            # uvicorn discards a body that does come (closing with unread data would reset the
            # connection and the client might never see this answer); keep-alive and the
            # header timeout bound how long.
            response = problem_response(
                413,
                ProblemType.TOO_LARGE,
                "Upload too large",
                f"The request declares {declared} bytes; this server accepts images of up to "
                f"{self.max_upload_bytes} bytes. Send a smaller image or raise "
                "JARVIS_MAX_UPLOAD_BYTES on the server.",
                instance=scope["path"],
            )
            await response(scope, receive, send)
            return

        body_done = False
        started = False

        async def timed_receive() -> Message:
            nonlocal body_done
            if body_done:
                # Only the disconnect notice is left, which a streaming response waits for.
                return await receive()
            try:
                async with asyncio.timeout(self.body_timeout):
                    message = await receive()
            except TimeoutError:
                raise _BodyTimeout from None
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_done = True
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, watched_send)
        except _BodyTimeout:
            if started:
                return  # nothing more can be said; uvicorn closes the connection
            response = problem_response(
                408,
                ProblemType.BAD_REQUEST,
                "Request body too slow",
                f"No part of the request body arrived for {self.body_timeout:g} seconds; "
                "nothing was stored. Retry the request.",
                instance=scope["path"],
                headers=_CLOSE,
            )
            await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            # The HTTP parser has already refused values that are not a number.
            return int(value) if value.isdigit() else None
    return None
