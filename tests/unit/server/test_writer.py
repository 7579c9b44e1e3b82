"""Group commit: concurrent rows share a transaction, and a repeated capture id is reported."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jarvis_server.core.db import create_engine, create_sessionmaker, create_writer_engine
from jarvis_server.models import Base, Capture, Device
from jarvis_server.writer import CaptureWriter, Written


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _row(capture_id: str, key: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": capture_id,
        "device_id": 1,
        "captured_at": now,
        "received_at": now,
        "monitor": 0,
        "width": 1,
        "height": 1,
        "mime_type": "image/png",
        "byte_size": 1,
        "sha256": "0" * 64,
        "app_name": None,
        "window_title": None,
        "redacted_regions": 0,
        "agent_version": "t",
        "storage_key": key,
    }


@pytest.fixture(params=["thread", "async"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A SQLite database with one device (token hash "h"), written through the writer's
    worker-thread path (as the server does on SQLite) or its async-session path (PostgreSQL's)."""
    url = make_url(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    sessions = create_sessionmaker(engine)
    async with sessions() as session:
        session.add(Device(name="d", token_hash="h", admin=False, created_at=datetime.now(UTC)))
        await session.commit()
    sync_engine = create_writer_engine(url) if request.param == "thread" else None
    yield Database(sessions, CaptureWriter(sessions, "sqlite", sync_engine))
    if sync_engine is not None:
        sync_engine.dispose()
    await engine.dispose()


@dataclass
class Database:
    sessions: async_sessionmaker[AsyncSession]
    writer: CaptureWriter

    async def count(self) -> int:
        async with self.sessions() as session:
            return await session.scalar(select(func.count()).select_from(Capture)) or 0


@pytest.mark.anyio
async def test_concurrent_inserts_and_a_repeated_id(database: Database) -> None:
    """Ten rows written at once all go in; the same device and capture id a second time is
    refused (EXISTS) without failing the rows batched with it."""
    rows = [_row(f"id-{i}", f"k-{i}") for i in range(10)] + [_row("id-3", "k-dup")]
    results = await asyncio.gather(*(database.writer.insert(r, "h") for r in rows))
    assert results == [Written.INSERTED] * 10 + [Written.EXISTS]
    assert await database.count() == 10


@pytest.mark.anyio
async def test_revoked_or_replaced_token_stores_nothing(database: Database) -> None:
    """A row whose token no longer matches its device (replaced) or whose device was revoked
    is not kept, even when batched with good rows, which are stored."""
    stale = await asyncio.gather(
        database.writer.insert(_row("a", "k-a"), "h"),
        database.writer.insert(_row("b", "k-b"), "old-hash"),
    )
    assert stale == [Written.INSERTED, Written.UNKNOWN_TOKEN]
    async with database.sessions() as session:
        device = await session.scalar(select(Device))
        assert device is not None
        device.revoked_at = datetime.now(UTC)
        await session.commit()
    assert await database.writer.insert(_row("c", "k-c"), "h") == Written.REVOKED
    async with database.sessions() as session:
        assert list(await session.scalars(select(Capture.id))) == ["a"]
