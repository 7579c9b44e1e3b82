"""Group commit: concurrent uploads share one transaction and one commit (one fsync).

Whoever finds the writer idle becomes the leader and writes every row queued so far in one
transaction, with ONE multi-row INSERT; rows that arrive meanwhile wait for the next round. Each
upload learns whether its row went in, already existed (same device and capture id), or was
refused because its device's token no longer holds. Nothing is acknowledged before the commit that
holds it, so durability is unchanged; only the number of statements, commits (and, on SQLite, of
lock hand-overs between writers) goes down.

The device check inside the transaction is what makes the upload route's authentication cache
safe: a token revoked or replaced a moment ago is refused here, at commit, whatever the cache said
before the body was read. It runs after the INSERT, which on SQLite already holds the write lock,
so no revocation can commit in between; on PostgreSQL it sees every revocation committed before it.

On SQLite the whole transaction runs in ONE worker-thread call on a synchronous connection of its
own: through aiosqlite every statement, fetch and commit is a separate hand-over between the event
loop and the connection's thread (a dozen per batch, each costing about 0.1 ms of CPU), which
made those hand-overs the largest cost of an upload. PostgreSQL (asyncpg) has no such hand-overs
and keeps the async session. Both paths run the same statements and the same decisions.
"""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Final, cast

import anyio
import anyio.to_thread
from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    Table,
    TextClause,
    bindparam,
    delete,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jarvis_server.models import Capture, Device, TextQueue

__all__ = ["CaptureWriter", "Written"]

# Rows per statement: 15 parameters each stays far below SQLite's 32766-variable limit.
_MAX_BATCH: Final = 256

_captures = cast(Table, Capture.__table__)
_devices = cast(Table, Device.__table__)
_text_queue = cast(Table, TextQueue.__table__)


class Written(Enum):
    """What became of one row."""

    INSERTED = "inserted"
    EXISTS = "exists"  # this device already stored this capture id
    REVOKED = "revoked"  # the device was revoked: nothing kept
    # The device's token was replaced: nothing kept. (A state's name, not a secret.)
    UNKNOWN_TOKEN = "unknown-token"  # noqa: S105


@dataclass(slots=True)
class _Queued:
    row: dict[str, Any]
    token_hash: str
    future: asyncio.Future[Written]


class CaptureWriter:
    """Batches rows into one transaction; `sync_engine` (SQLite) runs it in a worker thread."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        dialect: str,
        sync_engine: Engine | None = None,
    ) -> None:
        self._sessions = sessions
        self._sync_engine = sync_engine
        # Only the dialect in use is imported: PostgreSQL's (and through it asyncpg) cost a
        # SQLite server 30 ms or more before it listens.
        self._queue_and_notify: TextClause | None = None
        if dialect == "sqlite":
            from sqlalchemy.dialects import sqlite as chosen
        else:
            from sqlalchemy.dialects import postgresql as chosen  # type: ignore[no-redef]
            from sqlalchemy.dialects.postgresql import ARRAY, BIGINT

            # Queue the rows for text extraction AND tell every replica's event feed (pgevents,
            # delivered at commit) in one statement, one round trip fewer per batch.
            self._queue_and_notify = text(
                "WITH queued AS (INSERT INTO text_queue (capture_pk, attempts, next_attempt_at)"
                " SELECT pk, 0, :now FROM unnest(:pks) AS pk)"
                " SELECT pg_notify('jarvis_captures', pk::text) FROM unnest(:pks) AS pk"
            ).bindparams(
                bindparam("pks", type_=ARRAY(BIGINT)),
                bindparam("now", type_=DateTime(timezone=True)),
            )
        self._statement = (
            chosen.insert(_captures)
            .on_conflict_do_nothing(index_elements=["device_id", "id"])
            .returning(_captures.c.pk, _captures.c.storage_key)
        )
        self._pending: list[_Queued] = []
        self._lock = asyncio.Lock()
        self._thread = anyio.CapacityLimiter(1)

    async def insert(self, row: dict[str, Any], token_hash: str) -> Written:
        """Store one capture row for the device holding the token with this hash."""
        future: asyncio.Future[Written] = asyncio.get_running_loop().create_future()
        self._pending.append(_Queued(row, token_hash, future))
        async with self._lock:
            while not future.done():
                batch, self._pending = self._pending[:_MAX_BATCH], self._pending[_MAX_BATCH:]
                try:
                    results = await self._write(batch)
                except BaseException as exc:
                    for queued in batch:
                        # The leader raises itself; its own future would go unread.
                        if queued.future is not future and not queued.future.done():
                            queued.future.set_exception(
                                exc if isinstance(exc, Exception) else RuntimeError("cancelled")
                            )
                    raise
                for queued, written in zip(batch, results, strict=True):
                    queued.future.set_result(written)
        return await future

    async def _write(self, batch: list[_Queued]) -> list[Written]:
        if self._sync_engine is not None:
            results: list[Written] = await anyio.to_thread.run_sync(
                self._write_sync, self._sync_engine, batch, limiter=self._thread
            )
            return results
        async with self._sessions() as session, session.begin():
            conn = await session.connection()
            return await conn.run_sync(self._write_in, batch)

    def _write_sync(self, engine: Engine, batch: list[_Queued]) -> list[Written]:
        with engine.begin() as conn:
            return self._write_in(conn, batch)

    def _write_in(self, conn: Connection, batch: list[_Queued]) -> list[Written]:
        """Insert the batch, then judge each row by its device as the transaction sees it."""
        # A second row for the same device and id in one batch (a replay racing its original)
        # is not sent: it would only conflict with the first.
        first: dict[tuple[int, str], int] = {}
        for i, queued in enumerate(batch):
            first.setdefault((queued.row["device_id"], queued.row["id"]), i)
        rows = [batch[i].row for i in sorted(first.values())]
        # One statement compiled once (insertmanyvalues), whatever the batch size.
        inserted = {key: pk for pk, key in conn.execute(self._statement, rows).all()}
        devices = {
            device_id: (token_hash, revoked_at)
            for device_id, token_hash, revoked_at in conn.execute(
                select(_devices.c.id, _devices.c.token_hash, _devices.c.revoked_at).where(
                    _devices.c.id.in_({queued.row["device_id"] for queued in batch})
                )
            )
        }
        results: list[Written] = []
        refused: list[int] = []
        for queued in batch:
            token_hash, revoked_at = devices.get(queued.row["device_id"], ("", None))
            pk = inserted.get(queued.row["storage_key"])
            if not hmac.compare_digest(token_hash, queued.token_hash):
                written = Written.UNKNOWN_TOKEN
            elif revoked_at is not None:
                written = Written.REVOKED
            else:
                results.append(Written.INSERTED if pk is not None else Written.EXISTS)
                continue
            results.append(written)
            if pk is not None:
                refused.append(pk)
        if refused:
            conn.execute(delete(_captures).where(_captures.c.pk.in_(refused)))
        # Queued for text extraction in the same transaction: a stored capture is never missed.
        gone = set(refused)
        accepted = [pk for pk in inserted.values() if pk not in gone]
        if not accepted:
            return results
        now = datetime.now(UTC)
        if self._queue_and_notify is not None:
            conn.execute(self._queue_and_notify, {"pks": sorted(accepted), "now": now})
        else:
            conn.execute(
                insert(_text_queue),
                [{"capture_pk": pk, "attempts": 0, "next_attempt_at": now} for pk in accepted],
            )
        return results
