"""Start-up reconciliation of rows and files, and the operator's explicit storage repairs.

The decisions are made by `storage_plan.plan_reconciliation` from what the database and the
directory hold; this module reads both, refuses a directory that looks wrong as a whole, and
applies the plan. Nothing here deletes a capture: only `purge_missing` and `purge_quarantine`,
run by an operator who asked for them, remove rows or files, and start-up removes the images of
captures a user deleted whose removal a crash or a storage refusal interrupted (removal.py).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, cast

import anyio.to_thread
import structlog
from sqlalchemy import Table, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jarvis_server.filemodes import describe_fixed, tighten
from jarvis_server.models import Capture
from jarvis_server.removal import finish_removals
from jarvis_server.storage import FilesystemStorage, Storage, StorageError, StorageScan
from jarvis_server.storage_plan import Plan, Refusal, Row, plan_reconciliation

log = structlog.get_logger(__name__)

_BATCH: Final = 500  # rows per UPDATE/DELETE, far below every backend's parameter limit
_PAGE: Final = 10_000  # rows read per query: a server answering meanwhile waits for one page
# Below this many captures the whole reconciliation runs before the server listens (it costs
# little); from it on, a sample of files is checked first and the full one, which reads every
# row and lists every file, runs once the server answers.
BACKGROUND_FROM: Final = 2000
# Captures whose file the quick check looks for. A start is refused when more than half the
# files are gone; all of the sample being present then has odds below 2**-256.
SAMPLE: Final = 256
_LOOKUPS: Final = 16  # a bucket's objects looked up at once by the quick check
_captures = cast(Table, Capture.__table__)
STORAGE_VAR: Final = "JARVIS_STORAGE_DIR"
DB_VAR: Final = "JARVIS_DATABASE_URL"

Clock = Callable[[], datetime]


def storage_setting(storage: Storage) -> str:
    """The variable that chooses this storage, for messages."""
    return STORAGE_VAR if isinstance(storage, FilesystemStorage) else "JARVIS_STORAGE_URL"


def _utcnow() -> datetime:
    return datetime.now(UTC)


class StorageRootError(StorageError):
    """The storage directory does not look like the one the database describes; nothing was
    changed. The message names the directory and the settings to check."""

    def __init__(self, message: str, plan: Plan, *, setting: str = STORAGE_VAR) -> None:
        super().__init__(message, setting=setting)
        self.plan = plan


@dataclass(frozen=True, slots=True)
class Survey:
    """The plan, and the scan it was made from."""

    plan: Plan
    scan: StorageScan


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What a reconciliation did."""

    plan: Plan
    temp_files: int
    fixed_modes: list[Path]


def refusal_message(plan: Plan, storage: Storage, scan: StorageScan) -> str:
    var = storage_setting(storage)
    root = storage.location
    what = "storage directory" if var == STORAGE_VAR else "bucket"
    if plan.refusal is Refusal.FILES_GONE:
        where = "does not exist" if not scan.exists else f"holds only {plan.present}"
        return (
            f"the {what} {root} {where} of the {plan.listed} image files the database "
            f"lists: is the volume mounted? Check {var} (and {DB_VAR}). Nothing was "
            "changed. `jarvis-server storage check` shows what is missing; if those files are "
            "truly gone, `jarvis-server storage repair` marks their captures missing"
        )
    return (
        f"the {what} {root} holds {len(plan.quarantine)} image files the database "
        f"does not list (and {plan.present + len(plan.found_again)} that it does): is {DB_VAR} "
        f"the database of this storage, and {var} the storage of this database? Nothing "
        "was changed; `jarvis-server storage check` shows the counts"
    )


async def survey(
    sessions: async_sessionmaker[AsyncSession],
    storage: Storage,
    clock: Clock = _utcnow,
) -> Survey:
    """Read the rows and the directory and decide, changing nothing.

    Rows first, files second: another replica's upload puts its file before it commits its
    row, so a row read first always finds its file in the later scan, and a file that lands in
    between is a recent orphan, left alone."""
    rows = await _rows(sessions)
    scan = await storage.scan()
    # In a worker thread: with the server answering, its event loop is never held for long.
    plan = await anyio.to_thread.run_sync(
        plan_reconciliation, rows, scan.files, scan.quarantined, clock()
    )
    return Survey(plan, scan)


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> list[Row]:
    """Every capture row, a page at a time in pk order (Core rows, not ORM ones: cheaper). Rows
    committed meanwhile may or may not be read; either way their file is already in place."""
    columns = (_captures.c.pk, _captures.c.storage_key, _captures.c.file_missing_since)
    rows: list[Row] = []
    after = 0
    async with sessions() as session:
        while True:
            query = select(*columns).where(_captures.c.pk > after).order_by(_captures.c.pk)
            page = (await session.execute(query.limit(_PAGE))).all()
            rows += [Row(pk, key, missing) for pk, key, missing in page]
            if len(page) < _PAGE:
                return rows
            after = page[-1][0]


async def reconcile(
    sessions: async_sessionmaker[AsyncSession],
    storage: Storage,
    *,
    clock: Clock = _utcnow,
    force: bool = False,
    serving: bool = False,
) -> Reconciliation:
    """Bring rows and files in line without deleting anything: rows whose file is gone are
    marked missing, marks are cleared when the file is back, files no row lists are moved to
    quarantine once older than the crash window, and loose modes are made private.

    Raises StorageRootError, having changed nothing but modes, when the directory looks wrong
    as a whole (unless `force`: the operator's `storage repair`). Run before the server accepts
    requests, so no upload of this server is in flight; or with `serving`, once `prepare` has
    probed the storage and removed unfinished uploads: then the temporary folder is left alone
    (uploads are in flight) and a file placed meanwhile is a recent orphan, left in place.
    """
    found = await survey(sessions, storage, clock)
    plan = found.plan
    fixed = tighten(found.scan.loose)
    if plan.refusal is not None and not force:
        raise StorageRootError(
            refusal_message(plan, storage, found.scan), plan, setting=storage_setting(storage)
        )
    temp = 0
    if not serving:
        await storage.probe()
        temp = await storage.purge_temp()
    # Images of deleted captures go for good; only true orphans are kept in quarantine.
    removed = await finish_removals(sessions, storage)
    for key in plan.restore:
        await storage.restore(key)
    quarantine = [key for key in plan.quarantine if key not in removed]
    for key in quarantine:
        await storage.quarantine(key)
    now = clock()
    async with sessions() as session:
        for start in range(0, len(plan.mark_missing), _BATCH):
            batch = plan.mark_missing[start : start + _BATCH]
            await session.execute(
                update(Capture)
                .where(Capture.pk.in_(batch), Capture.file_missing_since.is_(None))
                .values(file_missing_since=now)
            )
        for start in range(0, len(plan.found_again), _BATCH):
            batch = plan.found_again[start : start + _BATCH]
            await session.execute(
                update(Capture).where(Capture.pk.in_(batch)).values(file_missing_since=None)
            )
        await session.commit()
    if temp or plan.changes:
        log.warning(
            "reconciled storage with database; nothing deleted",
            unfinished_uploads_removed=temp,
            captures_marked_missing=len(plan.mark_missing),
            captures_found_again=len(plan.found_again) + len(plan.restore),
            files_quarantined=len(quarantine),
            quarantine=storage.quarantine_location,
        )
    if plan.recent_orphans:
        log.info("files without a row left alone (recent)", files=len(plan.recent_orphans))
    missing = plan.still_missing + len(plan.mark_missing)
    if missing:
        log.warning(
            "captures without their image file",
            captures=missing,
            hint="see `jarvis-server storage check`; `storage purge-missing` removes them",
        )
    return Reconciliation(plan, temp, fixed)


async def quick_check(sessions: async_sessionmaker[AsyncSession], storage: Storage) -> bool:
    """Whether the full reconciliation may wait until the server listens: the database lists
    at least BACKGROUND_FROM captures (not marked missing) and a random SAMPLE of their files
    are all in place. A missing or empty volume or bucket fails it; the full reconciliation
    then runs first, and refuses."""
    listed = _captures.c.file_missing_since.is_(None)
    pk = _captures.c.pk
    async with sessions() as session:
        # Counted up to BACKGROUND_FROM only, and the ends of the pk range each on its own (two
        # index lookups): a count of every row or min and max together read the whole table,
        # ~20 ms at 100k captures and ~10x that at 1M, before the server may listen.
        enough = select(pk).where(listed).limit(BACKGROUND_FROM).subquery()
        count = int(await session.scalar(select(func.count()).select_from(enough)) or 0)
        if count < BACKGROUND_FROM:
            return False
        low = await session.scalar(select(func.min(pk)).where(listed))
        high = await session.scalar(select(func.max(pk)).where(listed))
        if low is None or high is None:  # all of them deleted meanwhile
            return False
        # Uniform over the rows without ORDER BY random(), which sorts the whole table: pks
        # drawn at random from their range, those that are listed rows kept, SAMPLE of them.
        drawn = random.sample(range(low, high + 1), min(SAMPLE * 4, high - low + 1))
        keys: list[str] = list(
            await session.scalars(select(_captures.c.storage_key).where(listed, pk.in_(drawn)))
        )
        if len(keys) < SAMPLE:  # sparse pks (many deleted): the slow way
            keys = list(
                await session.scalars(
                    select(_captures.c.storage_key)
                    .where(listed)
                    .order_by(func.random())
                    .limit(SAMPLE)
                )
            )
    keys = random.sample(keys, min(SAMPLE, len(keys)))
    try:
        return await _all_present(storage, keys)
    except (StorageError, OSError, ValueError):  # the full reconciliation says what is wrong
        return False


async def _all_present(storage: Storage, keys: list[str]) -> bool:
    if isinstance(storage, FilesystemStorage):
        fs = storage

        def all_present() -> bool:
            return all(fs.path(key).is_file() for key in keys)

        return await anyio.to_thread.run_sync(all_present)
    gate = asyncio.Semaphore(_LOOKUPS)

    async def present(key: str) -> bool:
        async with gate:
            return await storage.exists(key)

    return all(await asyncio.gather(*(present(key) for key in keys)))


async def prepare(
    sessions: async_sessionmaker[AsyncSession], storage: Storage
) -> Reconciliation | None:
    """What `serve` runs before it listens: the whole reconciliation, or, when `quick_check`
    passes, only what must precede any upload: the storage takes writes (`probe`, which also
    fails on a wrong bucket or credentials) and uploads the last run left unfinished are
    removed. None then: `reconcile(..., serving=True)` follows once the server answers."""
    if not await quick_check(sessions, storage):
        return await reconcile(sessions, storage)
    await storage.probe()
    temp = await storage.purge_temp()
    if temp:
        log.warning("removed unfinished uploads", unfinished_uploads_removed=temp)
    return None


async def missing_count(session: AsyncSession) -> int:
    """Captures marked missing (their image file was gone at the last start or repair)."""
    count = await session.scalar(
        select(func.count()).select_from(Capture).where(Capture.file_missing_since.is_not(None))
    )
    return int(count or 0)


async def purge_missing(sessions: async_sessionmaker[AsyncSession], storage: Storage) -> int:
    """Delete the rows marked missing whose file is still absent (checked again now)."""
    scan = await storage.scan()
    async with sessions() as session:
        result = await session.execute(
            select(Capture.pk, Capture.storage_key).where(Capture.file_missing_since.is_not(None))
        )
        gone = [
            pk
            for pk, key in result.tuples()
            if key not in scan.files and key not in scan.quarantined
        ]
        for start in range(0, len(gone), _BATCH):
            await session.execute(
                delete(Capture).where(Capture.pk.in_(gone[start : start + _BATCH]))
            )
        await session.commit()
    if gone:
        log.warning("purged captures whose image file was missing", captures=len(gone))
    return len(gone)


def warn_fixed_modes(fixed: Sequence[Path | str]) -> None:
    """One warning line naming what start-up made private."""
    if fixed:
        log.warning(
            "made files private to this user (were readable by others)",
            count=len(fixed),
            paths=describe_fixed(fixed),
        )
