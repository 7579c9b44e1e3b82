"""Captures stored by any replica reach the event streams of every replica (PostgreSQL).

The capture writer sends `NOTIFY jarvis_captures, '<pk>'` inside the transaction that stores the
rows, so PostgreSQL delivers it at commit, and only for rows that committed. Each replica LISTENs
on one connection of its own and turns the row numbers it hears into records for its local
Broadcaster, one query per burst. On SQLite (one process) the upload route publishes directly.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]  # ships no type hints
import structlog
from sqlalchemy import select
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jarvis_server.events import Broadcaster
from jarvis_server.models import Capture, Device
from jarvis_server.records import to_record

CHANNEL: Final = "jarvis_captures"
_RECONNECT_SECONDS: Final = 1.0
_BATCH: Final = 500

log = structlog.get_logger(__name__)


def asyncpg_dsn(url: URL) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


class CaptureFeed:
    """LISTENs for stored captures and publishes them to this process's subscribers."""

    def __init__(
        self, url: URL, sessions: async_sessionmaker[AsyncSession], broadcaster: Broadcaster
    ) -> None:
        self._dsn = asyncpg_dsn(url)
        self._sessions = sessions
        self._broadcaster = broadcaster
        self._pending: list[int] = []
        self._wake = asyncio.Event()
        self.listening = asyncio.Event()

    def _heard(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        with contextlib.suppress(ValueError):
            self._pending.append(int(payload))
            self._wake.set()

    async def run(self) -> None:
        """Listen (reconnecting after a loss) and publish until cancelled."""
        publisher = asyncio.create_task(self._publish_forever())
        failing = False
        try:
            while True:
                try:
                    conn = await asyncpg.connect(self._dsn)
                except (OSError, asyncpg.PostgresError) as exc:
                    if not failing:
                        log.warning("cannot listen for stored captures", error=type(exc).__name__)
                    failing = True
                    await asyncio.sleep(_RECONNECT_SECONDS)
                    continue
                failing = False
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: lost.set())
                try:
                    await conn.add_listener(CHANNEL, self._heard)
                    self.listening.set()
                    await lost.wait()
                finally:
                    self.listening.clear()
                    with contextlib.suppress(Exception):
                        await conn.close()
                log.warning("lost the database connection that listens for stored captures")
        finally:
            publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await publisher

    async def _publish_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            pks, self._pending = self._pending, []
            if not self._broadcaster.tokens():
                continue  # nobody is listening on this replica: nothing to read
            try:
                await self._publish(pks)
            except Exception as exc:  # the feed must outlive one failed read
                log.warning("cannot read stored captures for event streams", error=str(exc))

    async def _publish(self, pks: list[int]) -> None:
        async with self._sessions() as session:
            for start in range(0, len(pks), _BATCH):
                rows = await session.execute(
                    select(Capture, Device.name)
                    .join(Device, Device.id == Capture.device_id)
                    .where(Capture.pk.in_(pks[start : start + _BATCH]))
                    .order_by(Capture.pk)
                )
                for capture, device in rows.tuples():
                    self._broadcaster.publish(to_record(capture, device))
