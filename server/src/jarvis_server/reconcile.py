"""Start-up reconciliation of rows and files, and the operator's explicit storage repairs.

The decisions are made by `storage_plan.plan_reconciliation` from what the database and the
directory hold; this module reads both, refuses a directory that looks wrong as a whole, and
applies the plan. Nothing here deletes a capture: only `purge_missing` and `purge_quarantine`,
run by an operator who asked for them, remove rows or files, and start-up removes the images of
captures a user deleted whose removal a crash or a storage refusal interrupted (removal.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import structlog
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jarvis_server.filemodes import describe_fixed, tighten
from jarvis_server.models import Capture
from jarvis_server.removal import finish_removals
from jarvis_server.storage import FilesystemStorage, Storage, StorageError, StorageScan
from jarvis_server.storage_plan import Plan, Refusal, Row, plan_reconciliation

log = structlog.get_logger(__name__)

_BATCH: Final = 500  # rows per UPDATE/DELETE, far below every backend's parameter limit
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
    async with sessions() as session:
        result = await session.execute(
            select(Capture.pk, Capture.storage_key, Capture.file_missing_since)
        )
        rows = [Row(pk, key, missing) for pk, key, missing in result.tuples()]
    scan = await storage.scan()
    plan = plan_reconciliation(rows, scan.files, scan.quarantined, clock())
    return Survey(plan, scan)


async def reconcile(
    sessions: async_sessionmaker[AsyncSession],
    storage: Storage,
    *,
    clock: Clock = _utcnow,
    force: bool = False,
) -> Reconciliation:
    """Bring rows and files in line without deleting anything: rows whose file is gone are
    marked missing, marks are cleared when the file is back, files no row lists are moved to
    quarantine once older than the crash window, and loose modes are made private.

    Raises StorageRootError, having changed nothing but modes, when the directory looks wrong
    as a whole (unless `force`: the operator's `storage repair`). Run before the server accepts
    requests, so no upload of this server is in flight.
    """
    found = await survey(sessions, storage, clock)
    plan = found.plan
    fixed = tighten(found.scan.loose)
    if plan.refusal is not None and not force:
        raise StorageRootError(
            refusal_message(plan, storage, found.scan), plan, setting=storage_setting(storage)
        )
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
