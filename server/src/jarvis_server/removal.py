"""Deleting captures on request: the row first, then its image file.

The order is chosen so that no row ever points at a file that is gone, and never a capture that
the API still lists while its image is half deleted. The transaction that deletes the rows also
records each image in `image_removals`, and that record goes only when the object is gone: a
crash or a storage refusal in between leaves the record, so the image is removed at the next
delete request or start instead of surviving as an orphan in quarantine (a capture the user
deleted must not come back from there). Rows go through one SQL DELETE, so what hangs off a
capture by a cascading foreign key (extracted text, index entries) goes with it in the same
transaction.

Repeating a delete is harmless: what is already gone is simply not found again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

import structlog
from sqlalchemy import Select, delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jarvis_server.models import Capture, ImageRemoval
from jarvis_server.storage import Storage, StorageError

__all__ = ["delete_capture", "delete_range", "finish_removals"]

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
        keys = [key for _pk, key in found]
        # RETURNING would name exactly what this transaction removed; the pks it found and
        # deleted in one transaction are the same rows, and a concurrent delete of one of them
        # only makes its file removal below a no-op.
        await session.execute(delete(Capture).where(Capture.pk.in_(pks)))
        # A key can already wait here: its object was removed, a new upload of the same
        # capture id was given the same key, and that capture is deleted now.
        waiting = set(
            (
                await session.scalars(
                    select(ImageRemoval.storage_key).where(ImageRemoval.storage_key.in_(keys))
                )
            ).all()
        )
        now = datetime.now(UTC)
        session.add_all(
            ImageRemoval(storage_key=key, deleted_at=now) for key in keys if key not in waiting
        )
        await session.commit()
    await _remove_objects(sessions, storage, keys)
    return len(found)


async def _remove_objects(
    sessions: async_sessionmaker[AsyncSession], storage: Storage, keys: Iterable[str]
) -> list[str]:
    """Remove these objects and then their removal records; the keys removed. A record whose
    object could not be removed stays for the next try."""
    keys = list(keys)
    removed: list[str] = []
    for key in keys:
        try:
            await storage.delete(key)
        except StorageError as exc:
            # The store is refusing: the rest would fail the same way, and wait with this one.
            log.warning(
                "could not remove deleted captures' images; they are removed at the next "
                "delete or start",
                images=len(keys) - len(removed),
                error=str(exc),
            )
            break
        removed.append(key)
    async with sessions() as session:
        for start in range(0, len(removed), _BATCH):
            batch = removed[start : start + _BATCH]
            await session.execute(delete(ImageRemoval).where(ImageRemoval.storage_key.in_(batch)))
        await session.commit()
    return removed


async def finish_removals(sessions: async_sessionmaker[AsyncSession], storage: Storage) -> set[str]:
    """Remove the images that deleted captures left behind (a crash or a storage refusal
    between a delete's commit and its object's removal); the keys removed.

    A key that a capture row holds again (the same capture id uploaded after its object went)
    belongs to that capture: its record is dropped and its object kept. The one window left, an
    upload of a deleted capture's id taking its key between that check and the removal, costs
    only that re-upload its image (its row is then marked missing), never anybody else's.
    """
    done: set[str] = set()
    after = ""
    while True:
        async with sessions() as session:
            waiting = list(
                (
                    await session.scalars(
                        select(ImageRemoval.storage_key)
                        .where(ImageRemoval.storage_key > after)
                        .order_by(ImageRemoval.storage_key)
                        .limit(_BATCH)
                    )
                ).all()
            )
            if not waiting:
                break
            after = waiting[-1]
            reused = set(
                (
                    await session.scalars(
                        select(Capture.storage_key).where(Capture.storage_key.in_(waiting))
                    )
                ).all()
            )
            if reused:
                await session.execute(
                    delete(ImageRemoval).where(ImageRemoval.storage_key.in_(reused))
                )
                await session.commit()
        pending = [key for key in waiting if key not in reused]
        done.update(await _remove_objects(sessions, storage, pending))
    if done:
        log.info("removed images of captures deleted earlier", images=len(done))
    return done


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
        await finish_removals(sessions, storage)
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
        await finish_removals(sessions, storage)
    return total
