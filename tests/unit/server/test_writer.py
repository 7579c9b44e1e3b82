"""Group commit: concurrent rows share a transaction, and a repeated capture id is reported."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from jarvis_server.core.db import create_engine, create_sessionmaker
from jarvis_server.models import Base, Capture, Device
from jarvis_server.writer import CaptureWriter


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


@pytest.mark.anyio
async def test_concurrent_inserts_and_a_repeated_id(tmp_path: Path) -> None:
    """Ten rows written at once all go in; the same device and capture id a second time is
    refused (False) without failing the rows batched with it."""
    engine = create_engine(make_url(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"))
    async with engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    sessions = create_sessionmaker(engine)
    async with sessions() as session:
        session.add(Device(name="d", token_hash="h", admin=False, created_at=datetime.now(UTC)))
        await session.commit()
    writer = CaptureWriter(sessions, "sqlite")
    rows = [_row(f"id-{i}", f"k-{i}") for i in range(10)] + [_row("id-3", "k-dup")]
    results = await asyncio.gather(*(writer.insert(r) for r in rows))
    assert results == [True] * 10 + [False]
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Capture)) == 10
    await engine.dispose()
