"""The FastAPI application factory. The engine and storage are built in the lifespan."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from jarvis_contract import PROBLEM_MEDIA_TYPE, CaptureMetadata, Problem
from jarvis_server import __version__
from jarvis_server.api.routes import captures, devices, events, health, search, session, web
from jarvis_server.api.upload import max_request_bytes
from jarvis_server.auth import AuthCache
from jarvis_server.bodyguard import BodyGuard
from jarvis_server.core.config import Settings, check_text_languages, get_settings
from jarvis_server.core.db import (
    create_engine,
    create_sessionmaker,
    create_writer_engine,
    parse_database_url,
)
from jarvis_server.core.state import AppState
from jarvis_server.events import Broadcaster
from jarvis_server.problems import install_problem_handlers
from jarvis_server.ratelimit import PostgresRateLimiter, RateLimiter
from jarvis_server.reconcile import reconcile, warn_fixed_modes
from jarvis_server.securityheaders import SecurityHeaders
from jarvis_server.storage import StorageError
from jarvis_server.storage_open import open_storage
from jarvis_server.textqueue import TextWorker
from jarvis_server.tokenwatch import watch_stream_tokens
from jarvis_server.writer import CaptureWriter

log = structlog.get_logger(__name__)

DESCRIPTION = """Ingest API of Jarvis, a privacy-first desktop capture agent.

Every error is an RFC 9457 problem document (`application/problem+json`) with a stable `type`.
"""


def create_app(
    settings: Settings | None = None,
    *,
    identity_key: bytes | None = None,
    reconciled: bool = False,
    probed: bool = False,
    reconcile_later: bool = False,
) -> FastAPI:
    """The app; with `identity_key`, /health/identity answers challenges with it. Its lifespan
    reconciles storage first unless the caller (`serve`) already did, so that a refusal is one
    clear line rather than a failed lifespan; then it probes the storage, unless `probed` (this
    very process, `serve`, just did). With `reconcile_later` (`serve` ran only the quick check,
    reconcile.prepare) the full reconciliation runs once `app.state.listening` is set (`serve`
    sets it when uvicorn listens); if it refuses the storage, it has changed nothing, leaves the
    reason in `app.state.refusal` and calls `app.state.stop()` (`serve` sets it to end
    uvicorn's loop; by default SIGTERM)."""
    settings = settings or get_settings()
    broadcaster = Broadcaster()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = parse_database_url(settings.effective_database_url)
        engine = create_engine(url)
        writer_engine = create_writer_engine(url)
        storage = open_storage(settings)
        sessions = create_sessionmaker(engine)
        state = AppState(
            settings=settings,
            engine=engine,
            sessions=sessions,
            storage=storage,
            limiter=(
                PostgresRateLimiter(
                    engine, settings.rate_limit_per_minute, settings.rate_limit_burst
                )
                if engine.dialect.name == "postgresql"
                else RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
            ),
            events=broadcaster,
            writer=CaptureWriter(sessions, engine.dialect.name, writer_engine),
            auth_cache=AuthCache(),
        )
        broadcaster.bind(asyncio.get_running_loop())
        try:
            if reconciled:
                if not probed:
                    await storage.probe()
            else:  # judges the directory before the probe creates anything in it
                done = await reconcile(state.sessions, storage)
                warn_fixed_modes(done.fixed_modes)
            app.state.jarvis = state
            tasks = [
                asyncio.create_task(
                    watch_stream_tokens(
                        broadcaster, sessions, settings.events_token_recheck_seconds
                    )
                )
            ]
            if reconcile_later:
                tasks.append(asyncio.create_task(_reconcile_serving(app, state)))
            if settings.text_extraction:
                check_text_languages(settings)
                state.text_worker = TextWorker(sessions, storage, settings, engine.dialect.name)
                tasks.append(asyncio.create_task(state.text_worker.run()))
            if engine.dialect.name == "postgresql":
                # Imported here: it loads asyncpg, which a SQLite server never needs.
                from jarvis_server.pgevents import CaptureFeed

                # Every replica's captures reach this replica's streams (NOTIFY at commit).
                feed = CaptureFeed(url, sessions, broadcaster)
                tasks.append(asyncio.create_task(feed.run()))
                with suppress(TimeoutError):
                    await asyncio.wait_for(feed.listening.wait(), 10)
            try:
                yield
            finally:
                for task in tasks:
                    task.cancel()
                for task in tasks:
                    with suppress(asyncio.CancelledError):
                        await task
        finally:
            broadcaster.close()
            storage.close()
            await engine.dispose()
            if writer_engine is not None:
                writer_engine.dispose()

    app = FastAPI(
        title="Jarvis ingest server",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.broadcaster = broadcaster
    app.state.refusal = None
    app.state.listening = asyncio.Event()  # set by `serve` once uvicorn listens
    app.state.stop = lambda: os.kill(os.getpid(), signal.SIGTERM)
    app.state.identity_key = identity_key
    app.add_middleware(
        BodyGuard,
        max_body_bytes=max_request_bytes(settings.max_upload_bytes),
        max_upload_bytes=settings.max_upload_bytes,
        body_timeout=settings.request_body_timeout_seconds,
    )
    app.add_middleware(SecurityHeaders)
    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(captures.router)
    app.include_router(events.router)
    app.include_router(session.router)
    app.include_router(devices.router)
    app.include_router(web.router)
    app.include_router(search.router)
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    return app


async def _reconcile_serving(app: FastAPI, state: AppState) -> None:
    # Once the server listens: reading every row and listing every file beside uvicorn's start
    # would hold back the first answers by about as long as they take.
    await app.state.listening.wait()
    try:
        done = await reconcile(state.sessions, state.storage, serving=True)
    except StorageError as exc:  # refused, or unreadable: what a start would have refused
        app.state.refusal = exc
        app.state.stop()
        return
    except Exception:  # anything else is logged; the server goes on, the next start retries
        log.exception("reconciling storage with the database failed; nothing was deleted")
        return
    warn_fixed_modes(done.fixed_modes)


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's schema, corrected: errors are problem documents, validation errors are 400."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (Problem, CaptureMetadata):
        model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(model_schema.pop("$defs", {}))
        components[model.__name__] = model_schema
    for name in ("HTTPValidationError", "ValidationError"):
        components.pop(name, None)
    problem_content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses: dict[str, Any] = operation.get("responses", {})
            auto = responses.get("422", {})
            if auto.get("description") == "Validation Error":
                # FastAPI's own 422: we answer request validation errors with 400 instead.
                del responses["422"]
                responses.setdefault("400", {"description": "Invalid request parameters"})
            for code, response in responses.items():
                if code[0] in "45":
                    response["content"] = problem_content
    app.openapi_schema = schema
    return schema
