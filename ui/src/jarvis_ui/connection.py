"""The settings dialog's "Test connection": is the server there, and does it take our token?

Blocking (httpx); the dialog runs it on a worker thread. The token is sent only in the
Authorization header and never appears in the result or in log lines, and only to a server the
agent may trust (jarvis_sync.trust): an address the rule refuses gets no request at all, and a
loopback port held by another user's program gets no token.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from jarvis_contract import CAPTURES_PATH
from jarvis_sync.trust import is_loopback_http, local_server_problem, url_problem

TIMEOUT = httpx.Timeout(10.0, connect=5.0)


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


def check_connection(
    url: str,
    token: str | None,
    *,
    timeout: httpx.Timeout = TIMEOUT,
    allow_insecure_http: bool = False,
    identity_key: bytes | None = None,
) -> ConnectionResult:
    """GET /health, then an authenticated GET of one capture; never raises."""
    base = url.rstrip("/")
    refused = url_problem(base, allow_insecure_http=allow_insecure_http)
    if refused is not None:
        return ConnectionResult(False, None, None, f"Nothing was sent: {refused}.")
    try:
        with httpx.Client(base_url=base, timeout=timeout, follow_redirects=False) as client:
            started = time.perf_counter()
            health = client.get("/health")
            latency = (time.perf_counter() - started) * 1000
            if health.status_code >= 400:
                return ConnectionResult(
                    True,
                    None,
                    latency,
                    f"{base} answered {health.status_code} on /health: is this a Jarvis server?",
                )
            if not token:
                return ConnectionResult(
                    True,
                    None,
                    latency,
                    f"Reachable ({latency:.0f} ms), but no token is stored: paste the device "
                    "token from `jarvis-server token create` and Apply.",
                )
            if is_loopback_http(base):
                port = httpx.URL(base).port or 80
                refused = local_server_problem(client, port, identity_key)
                if refused is not None:
                    return ConnectionResult(
                        True, None, latency, f"The token was not sent: {refused}."
                    )
            reply = client.get(
                CAPTURES_PATH, params={"limit": 1}, headers={"Authorization": f"Bearer {token}"}
            )
    except httpx.InvalidURL:
        return ConnectionResult(False, None, None, f"{url!r} is not a valid server URL.")
    except httpx.TimeoutException:
        return ConnectionResult(
            False, None, None, f"{base} did not answer in time: check the URL and your network."
        )
    except httpx.HTTPError as exc:
        return ConnectionResult(
            False,
            None,
            None,
            f"Cannot reach {base}: {type(exc).__name__}. Is the server running and the URL right?",
        )
    if reply.status_code in (401, 403):
        return ConnectionResult(
            True,
            False,
            latency,
            f"Reachable ({latency:.0f} ms), but the token was refused ({reply.status_code}): "
            "create a new one with `jarvis-server token create` and paste it here.",
        )
    if reply.status_code >= 400:
        return ConnectionResult(
            True,
            None,
            latency,
            f"Reachable ({latency:.0f} ms), but listing captures failed ({reply.status_code}).",
        )
    return ConnectionResult(
        True, True, latency, f"Connected: reachable ({latency:.0f} ms), token valid."
    )
