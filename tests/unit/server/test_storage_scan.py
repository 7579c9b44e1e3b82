"""Filesystem storage: private modes whatever the umask, what a scan sees, and quarantine moves
that never delete."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jarvis_server.storage import FilesystemStorage

WHEN = datetime(2026, 5, 17, 23, 30, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def open_umask() -> Iterator[None]:
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.anyio
@pytest.mark.usefixtures("open_umask")
async def test_folders_and_files_are_private_under_umask_000(tmp_path: Path) -> None:
    """Even with umask 000 (a server run without the CLI's own umask), the storage root, the
    temp area, every date folder are 0700, and stored and spilled files 0600."""
    storage = FilesystemStorage(tmp_path / "storage")
    await storage.probe()
    pending = storage.begin()
    await pending.write(b"x" * (2 * 1024 * 1024))  # spills to its temporary file
    assert _mode(pending.path) == 0o600
    key = await storage.place(pending, "abc", "jpg", WHEN)
    for folder in (storage.root, storage.temp, *(storage.root / key).parents):
        if folder.is_relative_to(storage.root):
            assert _mode(folder) == 0o700, folder
    assert _mode(storage.root / key) == 0o600


@pytest.mark.anyio
async def test_scan_lists_images_only_and_notes_loose_modes(tmp_path: Path) -> None:
    """A scan lists image files by key with their mtime; the temp area, the quarantine and the
    volume's lost+found are not images; folders and files others can read are noted."""
    storage = FilesystemStorage(tmp_path / "storage")
    await storage.probe()
    day = storage.root / "2026" / "05" / "17"
    day.mkdir(parents=True, mode=0o755)
    (day / "a.jpg").write_bytes(b"a")
    (day / "a.jpg").chmod(0o644)
    (storage.temp / "x.part").write_bytes(b"partial")
    (storage.root / "lost+found").mkdir()
    (storage.quarantine_dir / "2026").mkdir(parents=True)
    (storage.quarantine_dir / "2026" / "q.jpg").write_bytes(b"q")
    scan = await storage.scan()
    assert set(scan.files) == {"2026/05/17/a.jpg"}
    assert scan.quarantined == frozenset({"2026/q.jpg"})
    assert day / "a.jpg" in scan.loose
    assert day in scan.loose


@pytest.mark.anyio
async def test_quarantine_and_restore_move_and_never_replace(tmp_path: Path) -> None:
    """A quarantined file keeps its bytes and relative path; restoring it puts it back; a file
    already in the way is kept beside, never overwritten."""
    storage = FilesystemStorage(tmp_path / "storage")
    await storage.probe()
    (storage.root / "2026").mkdir()
    (storage.root / "2026" / "a.jpg").write_bytes(b"first")
    await storage.quarantine("2026/a.jpg")
    assert (storage.quarantine_dir / "2026" / "a.jpg").read_bytes() == b"first"
    assert not (storage.root / "2026" / "a.jpg").exists()
    await storage.restore("2026/a.jpg")
    assert (storage.root / "2026" / "a.jpg").read_bytes() == b"first"
    await storage.quarantine("2026/a.jpg")
    (storage.root / "2026" / "a.jpg").write_bytes(b"second")
    await storage.quarantine("2026/a.jpg")
    assert sorted(p.read_bytes() for p in (storage.quarantine_dir / "2026").iterdir()) == [
        b"first",
        b"second",
    ]
    assert await storage.purge_quarantine() == 2
    assert (await storage.scan()).quarantined == frozenset()
