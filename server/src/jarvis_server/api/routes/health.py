"""Liveness and readiness: the process, the database, the storage directory."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from jarvis_contract import ProblemType
from jarvis_server import __version__
from jarvis_server.api.deps import StateDep
from jarvis_server.api.openapi_docs import problems
from jarvis_server.problems import ProblemError
from jarvis_server.storage import StorageError

router = APIRouter(prefix="/health", tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str = __version__


@router.get("", summary="The server process answers", response_model=Health)
async def health() -> Health:
    return Health()


@router.get("/db", summary="The database answers", response_model=Health, responses=problems(503))
async def health_db(state: StateDep) -> Health:
    try:
        async with state.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        raise ProblemError(
            503,
            ProblemType.UNAVAILABLE,
            "Database unavailable",
            f"The database does not answer ({type(exc).__name__}); check JARVIS_DATABASE_URL "
            "and that the database is running.",
            headers={"Retry-After": "5"},
        ) from exc
    return Health()


@router.get(
    "/storage",
    summary="The storage directory is writable",
    response_model=Health,
    responses=problems(503),
)
async def health_storage(state: StateDep) -> Health:
    try:
        await state.storage.probe()
    except StorageError as exc:
        raise ProblemError(
            503,
            ProblemType.UNAVAILABLE,
            "Storage unavailable",
            f"{exc}; check JARVIS_STORAGE_DIR (free space, permissions).",
            headers={"Retry-After": "5"},
        ) from exc
    return Health()
