"""Request dependencies as Annotated aliases, so route signatures stay short."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from jarvis_server.core.state import AppState
from jarvis_server.problems import ProblemError
from jarvis_server.tokens import find_device
from jarvis_sync.contract import ProblemType

_bearer = HTTPBearer(
    auto_error=False, description="A device token from `jarvis-server token create`."
)


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.jarvis
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_session(state: StateDep) -> AsyncIterator[AsyncSession]:
    async with state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated device: plain values, so no database session stays open for it."""

    device_id: int
    device: str
    admin: bool


_WWW_AUTH = {"WWW-Authenticate": 'Bearer realm="jarvis"'}


async def get_caller(
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise ProblemError(
            401,
            ProblemType.UNAUTHORIZED,
            "Missing token",
            "Send 'Authorization: Bearer <token>'; create a token with "
            "`jarvis-server token create --device NAME`.",
            headers=_WWW_AUTH,
        )
    # A short session of its own: an upload streams its body after this, holding no connection.
    async with state.sessions() as session:
        device = await find_device(session, credentials.credentials)
    if device is None:
        raise ProblemError(
            401,
            ProblemType.UNAUTHORIZED,
            "Unknown token",
            "The token is not known to this server; log in again with a token from "
            "`jarvis-server token create`.",
            headers=_WWW_AUTH,
        )
    if device.revoked_at is not None:
        raise ProblemError(
            403,
            ProblemType.REVOKED,
            "Device revoked",
            f"Device {device.name!r} was revoked; ask the server's admin for a new token.",
        )
    return Caller(device_id=device.id, device=device.name, admin=device.admin)


CallerDep = Annotated[Caller, Depends(get_caller)]
