"""Request dependencies as Annotated aliases, so route signatures stay short."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from jarvis_contract import ProblemType
from jarvis_server.auth import Caller
from jarvis_server.core.state import AppState
from jarvis_server.problems import ProblemError
from jarvis_server.tokens import find_device, hash_token
from jarvis_server.websession import (
    CSRF_HEADER,
    SESSION_COOKIE,
    csrf_matches,
    find_session,
    same_origin,
)

_bearer = HTTPBearer(
    auto_error=False, description="A device token from `jarvis-server token create`."
)


async def get_state(request: Request) -> AppState:
    # async on purpose: FastAPI runs a plain `def` dependency in a worker thread, a thread hop
    # (~0.1 ms of CPU) on every request for a dictionary lookup.
    state: AppState = request.app.state.jarvis
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    async with state.sessions() as session:
        yield session


# scope="function": the session (and its pooled connection) is closed when the route returns,
# not when the response has been sent, so a client reading an image slowly, or not at all,
# holds no database connection while the body streams.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


_WWW_AUTH = {"WWW-Authenticate": 'Bearer realm="jarvis"'}


def _missing_token() -> ProblemError:
    return ProblemError(
        401,
        ProblemType.UNAUTHORIZED,
        "Missing token",
        "Send 'Authorization: Bearer <token>'; create a token with "
        "`jarvis-server token create --device NAME`.",
        headers=_WWW_AUTH,
    )


def unknown_token() -> ProblemError:
    return ProblemError(
        401,
        ProblemType.UNAUTHORIZED,
        "Unknown token",
        "The token is not known to this server; log in again with a token from "
        "`jarvis-server token create`.",
        headers=_WWW_AUTH,
    )


def revoked(device: str) -> ProblemError:
    return ProblemError(
        403,
        ProblemType.REVOKED,
        "Device revoked",
        f"Device {device!r} was revoked; ask the server's admin for a new token.",
    )


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise _missing_token()
    return credentials.credentials


async def _verify(state: AppState, token: str) -> Caller:
    # A short session of its own: an upload streams its body after this, holding no connection.
    async with state.sessions() as session:
        device = await find_device(session, token)
    if device is None:
        raise unknown_token()
    if device.revoked_at is not None:
        raise revoked(device.name)
    return Caller(
        device_id=device.id, device=device.name, admin=device.admin, token_hash=device.token_hash
    )


_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def session_ended() -> ProblemError:
    return ProblemError(
        401,
        ProblemType.UNAUTHORIZED,
        "Signed out",
        "The session has ended (signed out, expired, or its token was revoked or replaced); "
        "sign in again with a token.",
        headers=_WWW_AUTH,
    )


def csrf_refused(why: str) -> ProblemError:
    return ProblemError(
        403,
        ProblemType.FORBIDDEN,
        "Cross-site request refused",
        f"A change made with the session cookie needs {why}; reload the page and try again.",
    )


def require_same_origin(request: Request) -> None:
    """Refuse a browser request that does not come from a page of this server."""
    origin, host = request.headers.get("origin"), request.headers.get("host")
    if same_origin(origin, host):
        return
    if origin and origin != "null" and host:
        # A page of another address, or of this server reached through a reverse proxy that
        # hands the request on under its own Host: reloading would never help the second.
        raise ProblemError(
            403,
            ProblemType.FORBIDDEN,
            "Cross-site request refused",
            "The page's address (its Origin) and the address this server was reached at (the "
            "Host header) differ. Open the timeline at the server's own address; behind a "
            "reverse proxy, have it pass the Host header on (nginx: proxy_set_header Host "
            "$http_host).",
        )
    raise csrf_refused("an Origin header naming this server")


def check_browser_change(request: Request, secret: str) -> None:
    """A state change with the session cookie: from a page of this server, with its CSRF token."""
    require_same_origin(request)
    if not csrf_matches(secret, request.headers.get(CSRF_HEADER)):
        raise csrf_refused(f"the session's {CSRF_HEADER} header")


async def get_caller(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The caller, looked up in the database on every request (reads, events, deletes): by its
    bearer token, or else by the timeline page's session cookie (which must also pass the CSRF
    checks to change anything)."""
    if credentials is not None or SESSION_COOKIE not in request.cookies:
        return await _verify(state, _token(credentials))
    secret = request.cookies[SESSION_COOKIE]
    async with state.sessions() as session:
        live = await find_session(session, secret)
    if live is None:
        raise session_ended()
    if request.method not in _SAFE_METHODS:
        check_browser_change(request, secret)
    return live.caller


async def get_uploader(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """The caller of an upload: a token verified within the last seconds is taken from the
    cache (the writer checks the device again when it stores the row)."""
    token = _token(credentials)
    cached = state.auth_cache.get(hash_token(token))
    if cached is not None:
        return cached
    caller = await _verify(state, token)
    state.auth_cache.put(caller)
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]
UploaderDep = Annotated[Caller, Depends(get_uploader)]
