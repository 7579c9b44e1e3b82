"""Start-up reconciliation: after a crash, every row has its file and every file its row."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jarvis_server.models import Capture
from jarvis_server.storage import FilesystemStorage

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Reconciliation:
    temp_files: int
    orphan_files: int
    orphan_rows: int


async def reconcile(
    sessions: async_sessionmaker[AsyncSession], storage: FilesystemStorage
) -> Reconciliation:
    """Remove unfinished uploads, files no row points to, and rows whose file is gone.

    Files are placed before their row commits, so a crash between the two leaves a file without
    a row (removed here; the agent still holds the capture and sends it again). Runs before the
    server accepts requests, so no upload in flight is mistaken for an orphan.
    """
    temp = await storage.purge_temp()
    files = await storage.keys()
    async with sessions() as session:
        rows = dict((await session.execute(select(Capture.storage_key, Capture.pk))).tuples().all())
        orphan_files = files - rows.keys()
        missing = [pk for key, pk in rows.items() if key not in files]
        for key in orphan_files:
            await storage.delete(key)
        for start in range(0, len(missing), 500):
            batch = missing[start : start + 500]
            await session.execute(delete(Capture).where(Capture.pk.in_(batch)))
        await session.commit()
    result = Reconciliation(temp, len(orphan_files), len(missing))
    if temp or orphan_files or missing:
        log.warning(
            "reconciled storage with database",
            unfinished_uploads=temp,
            files_without_row=len(orphan_files),
            rows_without_file=len(missing),
        )
    return result
