"""Filesystem storage (durable placement, no clobbering, temp cleanup), tokens, and the schema
revision constant."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from jarvis_server.migrate import SCHEMA_REVISION, head_revision
from jarvis_server.storage import FilesystemStorage, RejectedFile
from jarvis_server.tokens import hash_token, new_token

WHEN = datetime(2026, 5, 17, 23, 30, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _put(storage: FilesystemStorage, data: bytes, capture_id: str) -> str:
    pending = storage.begin()
    await pending.write(data)
    return await storage.place(pending, capture_id, "jpg", WHEN)


@pytest.mark.anyio
async def test_files_are_date_partitioned_and_never_replaced(tmp_path: Path) -> None:
    """A file lands at YYYY/MM/DD/{id}.{ext}; a second file for the same id gets its own name
    and both keep their bytes; nothing stays in the temp area."""
    storage = FilesystemStorage(tmp_path / "storage")
    first = await _put(storage, b"one", "abc")
    second = await _put(storage, b"two", "abc")
    assert first == "2026/05/17/abc.jpg"
    assert second != first
    assert second.startswith("2026/05/17/abc.")
    assert (storage.root / first).read_bytes() == b"one"
    assert (storage.root / second).read_bytes() == b"two"
    assert await storage.keys() == {first, second}
    assert list(storage.temp.iterdir()) == []


@pytest.mark.anyio
async def test_unfinished_uploads_are_purged(tmp_path: Path) -> None:
    """An upload too large to buffer streams to a temporary file; if it never finishes, that
    file is removed by purge_temp and is never listed as stored. A small unfinished upload
    never reached the disk at all."""
    storage = FilesystemStorage(tmp_path / "storage")
    await storage.probe()
    small = storage.begin()
    await small.write(b"partial")
    large = storage.begin()
    await large.write(b"x" * (3 * 1024 * 1024))
    assert [p.name for p in storage.temp.iterdir()] == [large.path.name]
    assert await storage.keys() == set()
    assert await storage.purge_temp() == 1
    assert list(storage.temp.iterdir()) == []


@pytest.mark.anyio
async def test_refused_upload_leaves_nothing(tmp_path: Path) -> None:
    """When the check refuses the bytes, place raises RejectedFile with the reason and neither
    a stored file nor a temporary one remains, whether the upload was buffered or on disk."""
    storage = FilesystemStorage(tmp_path / "storage")
    await storage.probe()
    for size in (10, 3 * 1024 * 1024):
        pending = storage.begin()
        await pending.write(b"y" * size)
        seen: list[bytes | Path] = []

        def refuse(source: bytes | Path, seen: list[bytes | Path] = seen) -> str:
            seen.append(source)
            return "not an image"

        with pytest.raises(RejectedFile, match="not an image"):
            await storage.place(pending, "abc", "jpg", WHEN, verify=refuse)
        await pending.discard()
        # Small uploads are checked in memory, large ones from their temporary file.
        assert isinstance(seen[0], bytes if size == 10 else Path)
        assert await storage.keys() == set()
        assert list(storage.temp.iterdir()) == []


def test_storage_keys_cannot_escape_the_directory(tmp_path: Path) -> None:
    """A key with .. is refused rather than read outside storage."""
    storage = FilesystemStorage(tmp_path / "storage")
    with pytest.raises(ValueError, match="escapes"):
        storage.path("../../etc/passwd")


def test_tokens_are_random_and_hashed() -> None:
    """Tokens carry the jv_ prefix and 256 random bits; the stored hash is not the token."""
    a, b = new_token(), new_token()
    assert a != b
    assert a.startswith("jv_")
    assert len(a) == 3 + 43
    assert hash_token(a) != a
    assert len(hash_token(a)) == 64


def test_schema_revision_constant_is_alembic_head() -> None:
    """SCHEMA_REVISION (checked at start without Alembic) equals the newest migration."""
    assert head_revision(make_url("sqlite+aiosqlite:////tmp/unused.db")) == SCHEMA_REVISION
