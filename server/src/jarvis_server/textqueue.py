"""The text worker: reads the words of queued captures, one at a time, off the event loop.

The queue is the `text_queue` table, filled in the same transaction that stores a capture (see
writer.py), so it survives restarts and crashes. A row is claimed by pushing its
`next_attempt_at` one lease ahead, so a crash mid-read leaves it to be read again after the
lease; the text is stored and the row deleted in one transaction, so a capture is read once.
A failure counts an attempt and waits twice as long each time; after the last attempt the row
is marked failed, logged, counted by /health/text, and skipped: it never blocks the rest.

OCR runs in one child process at the lowest CPU priority (see ocr.py), so ingest never waits
for it; a capture that crashes that process counts as a failed attempt, and a new process is
started for the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import structlog
from sqlalchemy import Table, delete, func, select, text, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jarvis_server.core.config import Settings
from jarvis_server.models import Capture, CaptureText, TextQueue
from jarvis_server.ocr import OcrError, OcrWord, init_child, read_in_child
from jarvis_server.searchkey import search_key
from jarvis_server.storage import Storage, StorageError
from jarvis_server.textquery import terms_of

__all__ = ["TextCounts", "TextWorker", "backoff", "text_counts"]

log = structlog.get_logger(__name__)

# Longest a claimed capture is held by a worker that may have crashed (a read takes ~2 s).
_LEASE: Final = timedelta(minutes=2)
_MAX_BACKOFF: Final = timedelta(hours=1)
_IDLE_POLL: Final = 2.0  # seconds between looks at an empty queue
# The first look at the queue waits this long (or for a new capture): its queries, compiled on
# first use, would otherwise compete with the first requests of a server that just started.
_FIRST_LOOK: Final = 1.0
_MAX_PAUSE: Final = 60.0  # longest wait between tries while the database does not answer
_ERROR_CHARS: Final = 500

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int, base_seconds: float) -> timedelta:
    """The wait after the `attempts`-th failure: base, 2x base, 4x base... at most an hour."""
    seconds = base_seconds * 2 ** max(0, attempts - 1)
    return min(timedelta(seconds=seconds), _MAX_BACKOFF)


@dataclass(frozen=True, slots=True)
class TextCounts:
    pending: int
    failed: int


async def text_counts(session: AsyncSession) -> TextCounts:
    failed = func.count().filter(TextQueue.failed_at.is_not(None))
    pending = func.count().filter(TextQueue.failed_at.is_(None))
    row = (await session.execute(select(pending, failed).select_from(TextQueue))).one()
    return TextCounts(pending=int(row[0] or 0), failed=int(row[1] or 0))


class TextWorker:
    """Works through the queue until stopped; `run()` is the background task."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        storage: Storage,
        settings: Settings,
        dialect: str,
        clock: Clock = _utcnow,
    ) -> None:
        self._sessions = sessions
        self._storage = storage
        self._settings = settings
        self._postgres = dialect == "postgresql"
        self._clock = clock
        self._wake = asyncio.Event()
        self._executor: ProcessPoolExecutor | None = None

    def wake(self) -> None:
        """A capture was queued: look now rather than at the next poll."""
        self._wake.set()

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn, not fork: the server has threads (a forked child would inherit their locks).
            self._executor = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=init_child,
                initargs=(
                    self._settings.text_tessdata_dir,
                    self._settings.text_languages,
                    os.getpid(),
                ),
            )
        return self._executor

    async def run(self) -> None:
        trouble: str | None = None
        pause = _IDLE_POLL
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), _FIRST_LOOK)
            while True:
                self._wake.clear()
                try:
                    busy = await self.step()
                except Exception as exc:  # the database is away: wait, never end the worker
                    if _describe(exc) != trouble:  # once per kind of trouble, not per try
                        trouble = _describe(exc)
                        log.warning("text worker cannot reach the queue; retrying", error=trouble)
                    pause = min(pause * 2, _MAX_PAUSE)
                    await asyncio.sleep(pause)
                    continue
                if trouble is not None:
                    log.info("text worker reaches the queue again")
                    trouble, pause = None, _IDLE_POLL
                if not busy:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), _IDLE_POLL)
        finally:
            self._stop_pool()

    def _stop_pool(self) -> None:
        """Stop the OCR process now: a read in progress is simply done again after a restart
        (its queue row is leased, not deleted)."""
        executor, self._executor = self._executor, None
        if executor is None:
            return
        # The executor has no public way to stop a busy worker before Python 3.14.
        for process in list((executor._processes or {}).values()):
            process.terminate()
        executor.shutdown(wait=False, cancel_futures=True)

    async def step(self) -> bool:
        """Read one due capture; False when none was due."""
        claimed = await self._claim()
        if claimed is None:
            return False
        pk, storage_key, attempts = claimed
        try:
            data = await self._read_file(storage_key)
            words = await asyncio.get_running_loop().run_in_executor(
                self._pool(), read_in_child, data
            )
        except asyncio.CancelledError:
            raise
        except BrokenProcessPool:
            self._stop_pool()  # the next capture gets a new process
            await self._failed(pk, attempts, OcrError("the OCR process died reading this image"))
            return True
        except Exception as exc:
            await self._failed(pk, attempts, exc)
            return True
        await self._store(pk, words)
        return True

    async def _read_file(self, key: str) -> bytes:
        chunks = [chunk async for chunk in self._storage.read(key)]
        return b"".join(chunks)

    async def _claim(self) -> tuple[int, str, int] | None:
        now = self._clock()
        async with self._sessions() as session, session.begin():
            query = (
                select(TextQueue.capture_pk, Capture.storage_key, TextQueue.attempts)
                .join(Capture, Capture.pk == TextQueue.capture_pk)
                .where(TextQueue.failed_at.is_(None), TextQueue.next_attempt_at <= now)
                .order_by(TextQueue.next_attempt_at)
                .limit(1)
            )
            if self._postgres:  # replicas share the queue: each row to one of them
                query = query.with_for_update(of=TextQueue, skip_locked=True)
            row = (await session.execute(query)).first()
            if row is None:
                return None
            pk, key, attempts = row
            # Claimed: a crash from here on leaves it to be read again after the lease.
            await session.execute(
                update(TextQueue)
                .where(TextQueue.capture_pk == pk)
                .values(next_attempt_at=now + _LEASE, attempts=attempts + 1)
            )
        return int(pk), str(key), int(attempts) + 1

    async def _store(self, pk: int, words: list[OcrWord]) -> None:
        lines: list[list[str]] = []
        for word in words:
            while len(lines) <= word.line:
                lines.append([])
            lines[word.line].append(word.text)
        body = "\n".join(" ".join(line) for line in lines if line)
        boxes = json.dumps([[w.x, w.y, w.w, w.h] for w in words], separators=(",", ":"))
        table: Table = CaptureText.__table__  # type: ignore[assignment]
        async with self._sessions() as session, session.begin():
            # Gone meanwhile (deleted with its capture)? Then there is nothing to store.
            captured_at = await session.scalar(
                select(Capture.captured_at)
                .join(TextQueue, TextQueue.capture_pk == Capture.pk)
                .where(TextQueue.capture_pk == pk)
            )
            if captured_at is None:
                return
            values = {
                "capture_pk": pk,
                "text": body,
                "boxes": boxes,
                "extracted_at": self._clock(),
                "sort_key": search_key(captured_at, pk),
            }
            if self._postgres:
                folded = " ".join(terms_of(body))
                await session.execute(
                    text(
                        "INSERT INTO capture_text "
                        "(capture_pk, text, boxes, extracted_at, sort_key, tsv) "
                        "VALUES (:capture_pk, :text, :boxes, :extracted_at, :sort_key, "
                        "to_tsvector('simple', :folded)) ON CONFLICT (capture_pk) DO NOTHING"
                    ),
                    {**values, "folded": folded},
                )
            else:
                # Only a second store of the same capture is ignored; a clash of sort_key
                # (same millisecond and row number mod 2**20) fails loudly and is retried.
                await session.execute(
                    sqlite_insert(table)
                    .values(values)
                    .on_conflict_do_nothing(index_elements=["capture_pk"])
                )
            await session.execute(delete(TextQueue).where(TextQueue.capture_pk == pk))

    async def _failed(self, pk: int, attempts: int, exc: Exception) -> None:
        error = _describe(exc)
        now = self._clock()
        final = attempts >= self._settings.text_max_attempts
        values: dict[str, object] = {"last_error": error[:_ERROR_CHARS]}
        if final:
            values["failed_at"] = now
        else:
            values["next_attempt_at"] = now + backoff(attempts, self._settings.text_retry_seconds)
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(TextQueue).where(TextQueue.capture_pk == pk).values(**values)
            )
        if final:
            log.warning(
                "text extraction failed for good; capture skipped",
                capture_pk=pk,
                attempts=attempts,
                error=error,
            )
        else:
            log.info("text extraction failed; will retry", capture_pk=pk, attempts=attempts)


def _describe(exc: Exception) -> str:
    if isinstance(exc, OcrError | StorageError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
