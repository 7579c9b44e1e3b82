"""/api/v1/session: the timeline page signs in with a token, learns who it is, signs out."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, Request, Response
from pydantic import BaseModel, Field

from jarvis_contract import API_PREFIX
from jarvis_server.api.deps import (
    StateDep,
    check_browser_change,
    require_same_origin,
    revoked,
    session_ended,
    unknown_token,
)
from jarvis_server.api.openapi_docs import problems
from jarvis_server.tokens import find_device
from jarvis_server.websession import (
    SESSION_COOKIE,
    csrf_token,
    end_session,
    find_session,
    start_session,
)

router = APIRouter(prefix=f"{API_PREFIX}/session", tags=["session"])


class SignIn(BaseModel):
    token: str = Field(min_length=1, max_length=512, description="A device token.")


class SessionInfo(BaseModel):
    device: str
    admin: bool
    csrf_token: str = Field(description="Send it as X-CSRF-Token with every change.")
    expires_at: datetime


def _set_cookie(request: Request, response: Response, secret: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@router.post(
    "",
    summary="Sign in the timeline page with a token (sets the session cookie)",
    response_model=SessionInfo,
    responses=problems(400, 401, 403, 503),
)
async def sign_in(
    request: Request,
    response: Response,
    state: StateDep,
    body: Annotated[SignIn, Body()],
) -> SessionInfo:
    """The token is checked once; the browser then holds only an HttpOnly session cookie."""
    # No login CSRF: only a page of this server may sign a browser in.
    require_same_origin(request)
    lifetime = timedelta(hours=state.settings.web_session_hours)
    async with state.sessions() as session:
        device = await find_device(session, body.token)
        if device is None:
            raise unknown_token()
        if device.revoked_at is not None:
            raise revoked(device.name)
        new = await start_session(session, device, lifetime)
    _set_cookie(request, response, new.secret, int(lifetime.total_seconds()))
    response.headers["Cache-Control"] = "no-store"
    return SessionInfo(
        device=device.name,
        admin=device.admin,
        csrf_token=csrf_token(new.secret),
        expires_at=new.expires_at,
    )


@router.get(
    "",
    summary="The signed-in session: device, admin, CSRF token",
    response_model=SessionInfo,
    responses=problems(401, 503),
)
async def whoami(request: Request, response: Response, state: StateDep) -> SessionInfo:
    secret = request.cookies.get(SESSION_COOKIE)
    if secret is None:
        raise session_ended()
    async with state.sessions() as session:
        live = await find_session(session, secret)
    if live is None:
        raise session_ended()
    response.headers["Cache-Control"] = "no-store"
    return SessionInfo(
        device=live.caller.device,
        admin=live.caller.admin,
        csrf_token=csrf_token(secret),
        expires_at=live.expires_at,
    )


@router.delete(
    "",
    status_code=204,
    summary="Sign out (ends the session, clears the cookie)",
    responses=problems(403, 503),
)
async def sign_out(request: Request, state: StateDep) -> Response:
    secret = request.cookies.get(SESSION_COOKIE)
    response = Response(status_code=204)
    if secret is not None:
        check_browser_change(request, secret)
        async with state.sessions() as session:
            await end_session(session, secret)
    response.delete_cookie(
        SESSION_COOKIE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


__all__ = ["SessionInfo", "SignIn", "router"]
