"""Group commit: concurrent uploads share one transaction and one commit (one fsync).

Whoever finds the writer idle becomes the leader and writes every row queued so far in one
transaction; rows that arrive meanwhile wait for the next round. Each upload learns whether its
row went in or already existed (same device and capture id). Nothing is acknowledged before the
commit that holds it, so durability is unchanged; only the number of commits (and, on SQLite,
of lock hand-overs between writers) goes down.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jarvis_server.models import Capture


class CaptureWriter:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], dialect: str) -> None:
        self._sessions = sessions
        self._insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        self._pending: list[tuple[dict[str, Any], asyncio.Future[bool]]] = []
        self._lock = asyncio.Lock()

    async def insert(self, row: dict[str, Any]) -> bool:
        """Store one capture row; False when that device already has that capture id."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append((row, future))
        async with self._lock:
            if not future.done():
                batch, self._pending = self._pending, []
                try:
                    results = await self._write([r for r, _ in batch])
                except BaseException as exc:
                    for _, waiting in batch:
                        # The leader raises itself; its own future would go unread.
                        if waiting is not future and not waiting.done():
                            waiting.set_exception(
                                exc if isinstance(exc, Exception) else RuntimeError("cancelled")
                            )
                    raise
                for (_, waiting), inserted in zip(batch, results, strict=True):
                    waiting.set_result(inserted)
        return await future

    async def _write(self, rows: list[dict[str, Any]]) -> list[bool]:
        results: list[bool] = []
        async with self._sessions() as session, session.begin():
            for row in rows:
                statement = (
                    self._insert(Capture)
                    .values(**row)
                    .on_conflict_do_nothing(index_elements=["device_id", "id"])
                    .returning(Capture.pk)
                )
                results.append((await session.execute(statement)).first() is not None)
        return results
