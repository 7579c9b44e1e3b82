"""The settings dialog's "Test connection": is the server there, and does it take our token?

Blocking (jarvis_sync's `ServerClient`); the dialog runs it on a worker thread. The token is sent
only in the Authorization header and never appears in the result or in log lines, and only to a
server the agent may trust: the client applies jarvis_sync.trust before the token leaves, so an
address the rule refuses gets no request at all, and a loopback port held by another user's
program gets nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from jarvis_sync import (
    ServerClient,
    ServerUnreachableError,
    TokenRefusedError,
    UnexpectedReplyError,
    UntrustedServerError,
)

TIMEOUT = 10.0  # seconds for each phase of a request
CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class ConnectionResult:
    """What the check found, worded for the user."""

    reachable: bool
    token_valid: bool | None  # None: no token to test
    latency_ms: float | None
    message: str

    @property
    def ok(self) -> bool:
        return self.reachable and self.token_valid is True


def _unreachable(base: str, exc: ServerUnreachableError) -> ConnectionResult:
    if exc.timed_out:
        text = f"{base} did not answer in time: check the URL and your network."
    else:
        text = f"Cannot reach {base} ({exc.reason}). Is the server running and the URL right?"
    return ConnectionResult(False, None, None, text)


def check_connection(
    url: str,
    token: str | None,
    *,
    timeout: float = TIMEOUT,
    allow_insecure_http: bool = False,
    identity_key: bytes | None = None,
) -> ConnectionResult:
    """The health check, then an authenticated look at one capture; never raises."""
    base = url.rstrip("/")
    try:
        server = ServerClient(
            base,
            timeout=timeout,
            connect_timeout=min(timeout, CONNECT_TIMEOUT),
            allow_insecure_http=allow_insecure_http,
            identity_key=identity_key,
        )
    except ServerUnreachableError:
        return ConnectionResult(False, None, None, f"{url!r} is not a valid server URL.")
    with server:
        try:
            health = server.health()
        except UntrustedServerError as exc:
            return ConnectionResult(False, None, None, f"Nothing was sent: {exc}.")
        except ServerUnreachableError as exc:
            return _unreachable(base, exc)
        latency = health.latency_ms
        if not health.ok:
            return ConnectionResult(
                True,
                None,
                latency,
                f"{health.url} answered {health.status}: is this a Jarvis server?",
            )
        if not token:
            return ConnectionResult(
                True,
                None,
                latency,
                f"Reachable ({latency:.0f} ms), but no token is stored: paste the device "
                "token from `jarvis-server token create` and Apply.",
            )
        try:
            server.check_token(token)
        except UntrustedServerError as exc:
            return ConnectionResult(True, None, latency, f"The token was not sent: {exc}.")
        except TokenRefusedError as exc:
            return ConnectionResult(
                True,
                False,
                latency,
                f"Reachable ({latency:.0f} ms), but the token was refused ({exc.status}): "
                "create a new one with `jarvis-server token create` and paste it here.",
            )
        except UnexpectedReplyError as exc:
            return ConnectionResult(
                True,
                None,
                latency,
                f"Reachable ({latency:.0f} ms), but listing captures failed ({exc.status}).",
            )
        except ServerUnreachableError as exc:
            return _unreachable(base, exc)
    return ConnectionResult(
        True, True, latency, f"Connected: reachable ({latency:.0f} ms), token valid."
    )
