"""Copy a filesystem store into a bucket, object by object, each verified by sha256.

Keys stay as they are, so the rows need no change: stop the server, copy, point
JARVIS_STORAGE_URL at the bucket, start. Nothing in the source is changed or removed. A re-run
skips objects already copied (same sha256) and refuses to replace an object that differs.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Final

import anyio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jarvis_server.models import Capture
from jarvis_server.s3storage import S3Storage
from jarvis_server.storage import FilesystemStorage

_AT_ONCE: Final = 8  # objects in flight: enough to hide the store's latency, bounded memory


@dataclass(slots=True)
class Migration:
    """What a copy did; `problems` names each object that could not be verified."""

    copied: int = 0
    already_there: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def verified(self) -> int:
        return self.copied + self.already_there


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def migrate_to_bucket(
    sessions: async_sessionmaker[AsyncSession],
    source: FilesystemStorage,
    target: S3Storage,
) -> Migration:
    """Copy every image file of `source` to `target` under the same key and read each back."""
    scan = await source.scan()
    async with sessions() as session:
        result = await session.execute(select(Capture.storage_key, Capture.sha256))
        listed = {key: sha for key, sha in result.tuples()}
    done = Migration()
    limit = asyncio.Semaphore(_AT_ONCE)

    async def copy(key: str) -> None:
        async with limit:
            data = await anyio.Path(source.path(key)).read_bytes()
            digest = _sha256(data)
            expected = listed.get(key)
            if expected is not None and expected != digest:
                done.problems.append(f"{key}: the file's sha256 is not the one its row records")
                return
            present = await target.get_object(key)
            if present is not None:
                if _sha256(present) == digest:
                    done.already_there += 1
                else:
                    done.problems.append(f"{key}: the bucket holds other bytes; not replaced")
                return
            await target.put_object(key, data)
            back = await target.get_object(key)
            if back is None or _sha256(back) != digest:
                done.problems.append(f"{key}: read back with another sha256 after copying")
                return
            done.copied += 1

    await asyncio.gather(*(copy(key) for key in sorted(scan.files)))
    return done
