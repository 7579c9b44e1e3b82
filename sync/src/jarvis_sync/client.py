"""The one client for a Jarvis server: health, the identity check, the token check, uploads,
search and reading a capture's image.

Every request the agent, the tray and the command line make to the server goes through
`ServerClient`, which owns the paths (from jarvis_contract), the time limits, the connection pool,
TLS (certificates always checked, redirects never followed) and the trust rule. Before any
request that carries the token, the client itself checks the destination (`jarvis_sync.trust`):
an address the rule refuses, or a loopback port that is not this user's own server, is sent
nothing with the token, so no caller can forget to ask.

All I/O passes through `_send`, where httpx's errors become the package's own
(`ServerUnreachableError`, chained); `upload` turns every failure into an `UploadOutcome` instead,
since the sync worker acts on outcomes, not exceptions. No caller sees an httpx exception.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import urlsplit
from uuid import UUID

import httpx
from pydantic import ValidationError

from jarvis_contract import (
    CAPTURES_PATH,
    DELETE_RANGE_PATH,
    EXTENSIONS,
    HEALTH_PATH,
    IDEMPOTENCY_HEADER,
    IDENTITY_PATH,
    SEARCH_PATH,
    CaptureMetadata,
    Deleted,
    DeleteRange,
    SearchPage,
)
from jarvis_sync.errors import (
    ServerUnreachableError,
    TokenRefusedError,
    UnexpectedReplyError,
    UntrustedServerError,
)
from jarvis_sync.replies import UploadOutcome, classify, problem_text
from jarvis_sync.trust import (
    is_loopback_http,
    listener_uids,
    new_nonce,
    owner_problem,
    proof_problem,
    unknown_owner_problem,
    url_problem,
)

__all__ = ["DEFAULT_TIMEOUT", "Health", "ServerClient"]

# Uploads of large frames over slow links: a minute to send or answer, ten seconds to connect.
DEFAULT_TIMEOUT: Final = httpx.Timeout(connect=10.0, read=60.0, write=60.0, pool=30.0)
_USER_AGENT: Final = "jarvis-agent"
_TRANSPORT_REASONS: Final[tuple[tuple[type[httpx.HTTPError], str], ...]] = (
    (httpx.ConnectTimeout, "connecting to the server timed out"),
    (httpx.ReadTimeout, "the server did not answer in time"),
    (httpx.WriteTimeout, "sending to the server timed out"),
    (httpx.PoolTimeout, "no free connection to the server"),
    (httpx.ConnectError, "cannot connect to the server"),
    (httpx.RemoteProtocolError, "the connection was cut before the server's reply was complete"),
    (httpx.ReadError, "the connection broke while reading the reply"),
    (httpx.WriteError, "the connection broke while sending"),
)


def _reason(exc: httpx.HTTPError) -> str:
    for kind, text in _TRANSPORT_REASONS:
        if isinstance(exc, kind):
            return text
    return f"network error ({type(exc).__name__})"


@dataclass(frozen=True, slots=True)
class Health:
    """The server's answer to the health check: where it was asked, the status, the latency."""

    url: str
    status: int
    latency_ms: float

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class ServerClient:
    """A pooled, thread-safe client of one Jarvis server at `server_url`.

    `timeout` bounds each phase of a request (seconds, or an httpx.Timeout); `connect_timeout`,
    when given, sets connecting apart. `identity_key` lets a local server without a readable
    socket table (macOS, Windows) prove it is this user's. Raises `ServerUnreachableError` for an
    address that cannot be parsed.
    """

    def __init__(
        self,
        server_url: str,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        connect_timeout: float | None = None,
        max_connections: int = 1,
        allow_insecure_http: bool = False,
        identity_key: bytes | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self._identity_key = identity_key
        try:
            self._url_problem = url_problem(
                self.server_url, allow_insecure_http=allow_insecure_http
            )
            self._local_port = (
                urlsplit(self.server_url).port or 80 if is_loopback_http(self.server_url) else None
            )
            self._client = httpx.Client(
                base_url=self.server_url,
                timeout=httpx.Timeout(timeout)
                if connect_timeout is None
                else httpx.Timeout(timeout, connect=connect_timeout),
                limits=httpx.Limits(
                    max_connections=max_connections, max_keepalive_connections=max_connections
                ),
                transport=transport,
                verify=True,  # no option turns certificate checks off
                follow_redirects=False,  # a redirect must not carry the token somewhere else
                headers={"User-Agent": _USER_AGENT},
            )
        except (ValueError, httpx.InvalidURL) as exc:
            raise self._invalid_url() from exc

    def _invalid_url(self) -> ServerUnreachableError:
        return ServerUnreachableError(
            f"{self.server_url!r} is not a valid server URL; check the address",
            reason="not a valid server URL",
        )

    # --- the one seam for I/O ---------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._client.request(method, path, **kwargs)
        except httpx.InvalidURL as exc:
            raise self._invalid_url() from exc
        except httpx.HTTPError as exc:
            reason = _reason(exc)
            raise ServerUnreachableError(
                f"{reason} at {self.server_url}; check the address and that the server is running",
                reason=reason,
                timed_out=isinstance(exc, httpx.TimeoutException),
            ) from exc

    # --- trust ------------------------------------------------------------------------------

    def _challenge(self, key: bytes, port: int) -> str | None:
        """Ask the server to prove it holds `key`; only a random nonce is sent."""
        nonce = new_nonce()
        try:
            reply = self._send("GET", IDENTITY_PATH, params={"nonce": nonce})
        except ServerUnreachableError as exc:
            return f"no answer to the identity check ({type(exc.__cause__).__name__})"
        return proof_problem(key, port, nonce, reply.status_code, reply.content)

    def _refusal(self) -> UploadOutcome | None:
        """What stops the token from going out now (None: it may). See `jarvis_sync.trust`."""
        if self._url_problem is not None:
            return UploadOutcome("untrusted", None, self._url_problem)
        port = self._local_port
        if port is None:
            return None  # https, or plain http with the opt-in
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
        problem = self._challenge(self._identity_key, port)
        return None if problem is None else UploadOutcome("untrusted", None, problem)

    def destination_problem(self) -> str | None:
        """Why the server may not be sent the token now (None: it may)."""
        refusal = self._refusal()
        return None if refusal is None else refusal.detail

    def _require_trust(self) -> None:
        refusal = self._refusal()
        if refusal is None:
            return
        if refusal.kind == "retry":
            raise ServerUnreachableError(refusal.detail, reason=refusal.detail)
        raise UntrustedServerError(refusal.detail)

    def identity_problem(self) -> str | None:
        """Why the listener on this loopback address is not this user's own Jarvis server (None:
        it is). Stricter than the rule for the token: where the kernel's socket table can be read
        its owner must be this user, and the server must prove it holds the identity key as well.
        Only a random nonce is sent. Needs `identity_key` and a plain-http loopback address."""
        port, key = self._local_port, self._identity_key
        if port is None or key is None:
            raise ValueError("the identity check needs a loopback http address and the key")
        uids = listener_uids(port)
        if uids is not None:
            problem = owner_problem(port, uids)
            if problem is not None:
                return problem
        return self._challenge(key, port)

    # --- what callers ask -------------------------------------------------------------------

    def health(self) -> Health:
        """Ask whether the server process answers, and how fast. No token is sent; an address
        the trust rule refuses, or a loopback port another user's program holds, is not asked
        at all (UntrustedServerError). ServerUnreachableError when nothing answers."""
        if self._url_problem is not None:
            raise UntrustedServerError(self._url_problem)
        if self._local_port is not None:
            uids = listener_uids(self._local_port)
            if uids:  # none listening: the request below says so
                problem = owner_problem(self._local_port, uids)
                if problem is not None:
                    raise UntrustedServerError(problem)
        started = time.perf_counter()
        reply = self._send("GET", HEALTH_PATH)
        latency = (time.perf_counter() - started) * 1000
        return Health(f"{self.server_url}{HEALTH_PATH}", reply.status_code, latency)

    def check_token(self, token: str) -> None:
        """Whether the server accepts `token` (returns), else the ServerError saying why.

        The trust rule is applied first: UntrustedServerError and the token stays here.
        """
        self._require_trust()
        response = self._send(
            "GET", CAPTURES_PATH, params={"limit": 1}, headers={"Authorization": f"Bearer {token}"}
        )
        status = response.status_code
        if status == 200:
            return
        detail = problem_text(status, response.content)
        if status == 401:
            raise TokenRefusedError(
                f"the server refused the token ({detail}); create a new device token on the "
                "server (`jarvis-server token create DEVICE`) and try again",
                status=status,
            )
        if status == 403:
            raise TokenRefusedError(
                f"the server knows the token but refuses it ({detail}); it may be revoked: "
                "ask for a new device token",
                status=status,
            )
        if status == 404:
            raise UnexpectedReplyError(
                f"{self.server_url} has no Jarvis capture API ({detail}); check the server address",
                status=status,
            )
        raise UnexpectedReplyError(
            f"the server at {self.server_url} answered {detail}; try again later", status=status
        )

    def _deleted(self, response: httpx.Response) -> int:
        status = response.status_code
        if status == 200:
            try:
                return Deleted.model_validate_json(response.content).deleted
            except ValidationError:
                raise UnexpectedReplyError(
                    f"the server at {self.server_url} answered a delete with something other "
                    "than a count; is it a Jarvis server?",
                    status=status,
                ) from None
        detail = problem_text(status, response.content)
        if status in (401, 403):
            raise TokenRefusedError(
                f"the server refused to delete ({detail}); log in again with a valid device "
                "token (`jarvis login`)",
                status=status,
            )
        raise UnexpectedReplyError(
            f"the server at {self.server_url} did not delete ({detail})", status=status
        )

    def delete_capture(self, token: str, capture_id: UUID) -> int:
        """Delete one of this device's captures on the server: image, record and text. 1 when
        it went, 0 when the server holds no such capture of this device (already deleted)."""
        self._require_trust()
        response = self._send(
            "DELETE",
            f"{CAPTURES_PATH}/{capture_id}",
            headers={"Authorization": f"Bearer {token}"},
        )
        if response.status_code == 404:
            return 0
        return self._deleted(response)

    def delete_captures(self, token: str, since: datetime, until: datetime) -> int:
        """Delete this device's captures taken in [since, until) on the server; how many went."""
        self._require_trust()
        body = DeleteRange(since=since, until=until).model_dump_json(exclude_none=True)
        response = self._send(
            "POST",
            DELETE_RANGE_PATH,
            content=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        return self._deleted(response)

    def upload(self, token: str, metadata: CaptureMetadata, data: bytes) -> UploadOutcome:
        """Send one capture; the outcome says whether it is stored, to retry, or refused."""
        refusal = self._refusal()
        if refusal is not None:
            return refusal
        name = f"{metadata.id}.{EXTENSIONS[metadata.mime_type]}"
        try:
            response = self._send(
                "POST",
                CAPTURES_PATH,
                headers={
                    "Authorization": f"Bearer {token}",
                    IDEMPOTENCY_HEADER: str(metadata.id),
                },
                files={"file": (name, data, metadata.mime_type)},
                data={"metadata": metadata.model_dump_json()},
            )
        except ServerUnreachableError as exc:
            return UploadOutcome("retry", None, exc.reason)
        return classify(response.status_code, response.headers, response.content)

    def _get(self, token: str, path: str, params: dict[str, str | int] | None = None) -> bytes:
        """A GET that carries the token (trust checked first); the body, or the ServerError
        naming what the server said."""
        self._require_trust()
        response = self._send(
            "GET", path, params=params, headers={"Authorization": f"Bearer {token}"}
        )
        status = response.status_code
        if status == 200:
            return response.content
        detail = problem_text(status, response.content)
        if status in (401, 403):
            raise TokenRefusedError(
                f"the server refused the token ({detail}); log in again with `jarvis login`",
                status=status,
            )
        raise UnexpectedReplyError(
            f"the server at {self.server_url} answered {detail}", status=status
        )

    def search(
        self, token: str, query: str, *, limit: int = 20, cursor: str | None = None
    ) -> SearchPage:
        """Captures of this device whose text matches `query`, newest first."""
        params: dict[str, str | int] = {"q": query, "limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        body = self._get(token, SEARCH_PATH, params)
        try:
            return SearchPage.model_validate_json(body)
        except ValueError as exc:
            raise UnexpectedReplyError(
                f"the server at {self.server_url} sent a search reply that is not one "
                "(is server.url the Jarvis server's address?)",
                status=200,
            ) from exc

    def capture_image(self, token: str, capture_id: str) -> bytes:
        """The image bytes of one of this device's captures."""
        return self._get(token, f"{CAPTURES_PATH}/{capture_id}/image")

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
