"""The outbox on a small, real tmpfs: a full disk fails cleanly, evicts, counts and recovers."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from jarvis_sync import Outbox, OutboxFullError
from jarvis_sync.cipher import new_key
from tests.support.server import LiveServer
from tests.unit.sync.factory import metadata_for, png_bytes

from .conftest import WorkerFactory, wait_until

DISK = 4 * 1024 * 1024


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 4 MiB tmpfs mounted for this test (needs root, which the test machines have)."""
    mountpoint = Path(tempfile.mkdtemp(prefix="jarvis-small-disk-"))
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={DISK},mode=0700", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        mountpoint.rmdir()
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
        mountpoint.rmdir()


def fill_disk(path: Path) -> None:
    """Write a ballast file until the file system says it is full."""
    chunk = b"\0" * 65536
    with path.open("wb") as ballast, contextlib.suppress(OSError):
        while True:
            ballast.write(chunk)
            ballast.flush()
    with contextlib.suppress(OSError), path.open("ab") as ballast:
        while True:
            ballast.write(b"\0" * 512)
            ballast.flush()


def new_capture() -> tuple[object, bytes]:
    data = png_bytes(128, 128)
    return metadata_for(data, width=128, height=128), data


def test_full_disk_evicts_oldest_counts_and_keeps_going(small_disk: Path) -> None:
    """A disk filling up evicts the oldest unsent captures (counted); the rest read back intact."""
    kept: dict[object, bytes] = {}
    with Outbox.open(small_disk / "outbox", key=new_key()) as outbox:
        for _ in range(150):  # about 7 MB into a 4 MiB disk
            metadata, data = new_capture()
            outbox.put(metadata, data)  # type: ignore[arg-type]
            kept[metadata.id] = data  # type: ignore[attr-defined]
        stats = outbox.stats()
        assert stats.evicted_total > 0
        assert stats.pending + stats.evicted_total <= 150
        for entry in outbox.entries(limit=1000):
            assert outbox.read(entry.id) == kept[entry.id]
        assert list((small_disk / "outbox" / "tmp").iterdir()) == []
    db = sqlite3.connect(small_disk / "outbox" / "outbox.db")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()


def test_write_fails_cleanly_then_resumes_when_space_frees(small_disk: Path) -> None:
    """With nothing to evict, a put on a full disk is refused clearly and leaves no file;
    once space is freed, captures are accepted again."""
    ballast = small_disk / "ballast"
    with Outbox.open(small_disk / "outbox", key=new_key()) as outbox:
        fill_disk(ballast)
        with pytest.raises(OSError, match="No space left") as full:
            (small_disk / "probe").write_bytes(b"x" * 65536)
        assert full.value.errno == errno.ENOSPC
        metadata, data = new_capture()
        with pytest.raises(OutboxFullError, match="is full"):
            outbox.put(metadata, data)  # type: ignore[arg-type]
        assert list((small_disk / "outbox" / "blobs").iterdir()) == []
        assert list((small_disk / "outbox" / "tmp").iterdir()) == []
        assert outbox.stats().pending == 0
        os.unlink(ballast)
        for _ in range(5):
            metadata, data = new_capture()
            outbox.put(metadata, data)  # type: ignore[arg-type]
        assert outbox.stats().pending == 5


def test_sending_from_a_full_disk_loses_nothing(
    small_disk: Path,
    sync_server: LiveServer,
    device: str,
    worker_factory: WorkerFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With the disk full, the queue still drains (the outbox's reserve is released for it),
    nothing crashes, and every capture is on the server exactly once."""
    token = sync_server.create_token(device)
    with Outbox.open(small_disk / "outbox", key=new_key()) as outbox:
        captures = []
        for _ in range(20):
            metadata, data = new_capture()
            outbox.put(metadata, data)  # type: ignore[arg-type]
            captures.append(metadata)
        ballast = small_disk / "ballast"
        fill_disk(ballast)
        worker = worker_factory(outbox, sync_server.url, lambda: token)
        wait_until(lambda: outbox.stats().queued == 0, "queue drained on a full disk")
        assert "released the outbox's reserve" in caplog.text
        os.unlink(ballast)
        assert worker.status().dead == 0
        stats = outbox.stats()
        assert stats.evicted_total + stats.quarantined_total == 0
    ids = [r.id for r in sync_server.captures() if r.device == device]
    assert sorted(map(str, ids)) == sorted(str(m.id) for m in captures)  # type: ignore[attr-defined]
