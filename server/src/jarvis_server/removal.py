"""Deleting captures on request: the row first, then its image file.

The order is chosen so that no row ever points at a file that is gone: a crash (or a storage
error) after the row's commit and before the file's removal leaves a file no row lists, which
start-up reconciliation moves to quarantine once it is older than the crash window; never a row
that reconciliation would mark missing, and never a capture that the API still lists while its
image is half deleted. Rows go through one SQL DELETE, so what hangs off a capture by a cascading
foreign key (extracted text, index entries) goes with it in the same transaction.

Repeating a delete is harmless: what is already gone is simply not found again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

import structlog
from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jarvis_server.models import Capture
from jarvis_server.storage import Storage, StorageError

__all__ = ["delete_capture", "delete_range"]

log = structlog.get_logger(__name__)

_BATCH: Final = 500  # rows per DELETE, far below every backend's limit on bound parameters


async def _delete_batch(
    sessions: async_sessionmaker[AsyncSession],
    storage: Storage,
    query: Select[int, str],
) -> int:
    async with sessions() as session:
        found = list((await session.execute(query)).tuples())
        if not found:
            return 0
        pks = [pk for pk, _key in found]
        # RETURNING would name exactly what this transaction removed; the pks it found and
        # deleted in one transaction are the same rows, and a concurrent delete of one of them
        # only makes its file removal below a no-op.
        await session.execute(delete(Capture).where(Capture.pk.in_(pks)))
        await session.commit()
    for _pk, key in found:
        try:
            await storage.delete(key)
        except StorageError as exc:
            # The rows are gone; the object left behind is an orphan that the next start moves
            # to quarantine (see reconcile.py), never an image a record still points at.
            log.warning("could not remove a deleted capture's image", key=key, error=str(exc))
    return len(found)


async def delete_capture(
    sessions: async_sessionmaker[AsyncSession],
    storage: Storage,
    *,
    capture_id: str,
    device_id: int | None,
) -> int:
    """Delete one capture (of this device, or of any device when `device_id` is None, for an
    admin); how many rows went: 0 or, for an admin, one per device holding that id."""
    query = select(Capture.pk, Capture.storage_key).where(Capture.id == capture_id)
    if device_id is not None:
        query = query.where(Capture.device_id == device_id)
    deleted = await _delete_batch(sessions, storage, query)
    if deleted:
        log.info("captures deleted on request", captures=deleted)
    return deleted


async def delete_range(
    sessions: async_sessionmaker[AsyncSession],
    storage: Storage,
    *,
    device_id: int,
    since: datetime,
    until: datetime,
) -> int:
    """Delete one device's captures taken in [since, until), in batches; how many went."""
    total = 0
    while True:
        query = (
            select(Capture.pk, Capture.storage_key)
            .where(
                Capture.device_id == device_id,
                Capture.captured_at >= since,
                Capture.captured_at < until,
            )
            .order_by(Capture.pk)
            .limit(_BATCH)
        )
        deleted = await _delete_batch(sessions, storage, query)
        total += deleted
        if deleted < _BATCH:
            break
    if total:
        log.info("captures deleted on request", captures=total)
    return total
