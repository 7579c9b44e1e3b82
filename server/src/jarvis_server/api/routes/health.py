"""Liveness and readiness: the process, the database, the storage directory."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import text

from jarvis_contract import (
    HEALTH_PATH,
    IDENTITY_NONCE_PATTERN,
    IDENTITY_PATH,
    IdentityProof,
    ProblemType,
    identity_proof,
)
from jarvis_server import __version__
from jarvis_server.api.deps import StateDep
from jarvis_server.api.openapi_docs import problems
from jarvis_server.problems import ProblemError
from jarvis_server.reconcile import missing_count
from jarvis_server.storage import StorageError
from jarvis_server.textqueue import text_counts

router = APIRouter(prefix=HEALTH_PATH, tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str = __version__


class StorageHealth(BaseModel):
    """The storage directory is writable; "degraded" while captures miss their image file."""

    status: Literal["ok", "degraded"] = "ok"
    version: str = __version__
    captures_missing_file: int | None = Field(
        description="Captures whose image file was gone at the last start or repair (null "
        "while the database does not answer); see "
        "`jarvis-server storage check`, removed only by `jarvis-server storage purge-missing`."
    )
    detail: str | None = None


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
    summary="The storage directory is writable; captures missing their file are counted",
    response_model=StorageHealth,
    responses=problems(503),
)
async def health_storage(state: StateDep) -> StorageHealth:
    try:
        await state.storage.probe()
    except StorageError as exc:
        raise ProblemError(
            503,
            ProblemType.UNAVAILABLE,
            "Storage unavailable",
            f"{exc}; check {exc.setting}.",
            headers={"Retry-After": "5"},
        ) from exc
    try:
        async with state.sessions() as session:
            missing: int | None = await missing_count(session)
    except Exception:
        missing = None  # the database is down: /health/db says so; the directory is fine
    if not missing:
        return StorageHealth(captures_missing_file=missing)
    return StorageHealth(
        status="degraded",
        captures_missing_file=missing,
        detail=f"{missing} captures have no image file in {state.storage.location}; their records "
        "are kept (image_missing_since). Run `jarvis-server storage check`.",
    )


@router.get(
    IDENTITY_PATH.removeprefix(HEALTH_PATH),
    summary="Prove this server holds the local user's identity key",
    response_model=IdentityProof,
    responses={**problems(400), 404: {"description": "Started without an identity key"}},
)
async def health_identity(
    request: Request,
    nonce: Annotated[str, Query(pattern=IDENTITY_NONCE_PATTERN, description="Client's nonce.")],
) -> IdentityProof:
    """HMAC of the nonce and the port this connection reached, keyed by JARVIS_IDENTITY_KEY_FILE.

    `jarvis up` checks it before it sends a token to a server on a loopback port, so a stranger
    listening there gets nothing.
    """
    key: bytes | None = request.app.state.identity_key
    if key is None:
        raise ProblemError(
            404,
            ProblemType.NOT_FOUND,
            "No identity key",
            "This server was started without JARVIS_IDENTITY_KEY_FILE.",
        )
    # The port of the socket the client reached, not one it names: a relay on another port
    # gets a proof its client rejects.
    server = request.scope.get("server") or ("", 0)
    return IdentityProof(proof=identity_proof(key, int(server[1] or 0), nonce))


class TextHealth(BaseModel):
    """The text worker's queue; "degraded" while some captures could not be read at all."""

    status: Literal["ok", "degraded"] = "ok"
    version: str = __version__
    extraction: bool = Field(description="Whether this server reads captures' text.")
    pending: int = Field(description="Captures waiting to be read (or retried).")
    failed: int = Field(
        description="Captures given up on after JARVIS_TEXT_MAX_ATTEMPTS; not searchable."
    )
    detail: str | None = None


@router.get(
    "/text",
    summary="Captures waiting for text extraction, and those it gave up on",
    response_model=TextHealth,
    responses=problems(503),
)
async def health_text(state: StateDep) -> TextHealth:
    try:
        async with state.sessions() as session:
            counts = await text_counts(session)
    except Exception as exc:
        raise ProblemError(
            503,
            ProblemType.UNAVAILABLE,
            "Database unavailable",
            f"The database does not answer ({type(exc).__name__}).",
            headers={"Retry-After": "5"},
        ) from exc
    health = TextHealth(
        extraction=state.settings.text_extraction, pending=counts.pending, failed=counts.failed
    )
    if counts.failed:
        health.status = "degraded"
        health.detail = (
            f"{counts.failed} captures could not be read (see the server log's "
            "'text extraction failed' lines); they are stored but not searchable."
        )
    return health
