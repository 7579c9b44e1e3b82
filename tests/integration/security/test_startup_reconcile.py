"""Trust review item 1 at scale: with many captures, `serve` checks a sample of files before it
listens and runs the full reconciliation (one stat per file) after, and that changes none of
its guarantees. A missing or empty storage volume still stops `serve` before it accepts an
upload; an old orphan is still quarantined, now once the server answers; a directory the
background scan finds full of another database's files still stops the server, changing nothing.

SQLite, on a storage directory and on an S3 bucket (the session's rclone, which serves a folder
whose files are the objects): the rows are written straight into the database file (thousands of
uploads would take minutes). And a capture deleted while a reconciliation moves its file aside
leaves no copy in quarantine.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from jarvis_contract import CAPTURES_PATH
from jarvis_server.reconcile import BACKGROUND_FROM
from tests.integration.security.test_storage_trust import TWO_HOURS, _assert_refused
from tests.integration.server.uploads import make_capture, upload
from tests.support.s3 import S3Server
from tests.support.server import LiveServer, make_server

MANY = BACKGROUND_FROM + 100
_NOW = "2026-03-04 10:00:00.000000"


def _fill(server: LiveServer, count: int) -> list[Path]:
    """`count` captures of one device: rows in the database, a small file each (old mtime)."""
    server.create_token("laptop")
    day = server.storage_dir / "2026" / "03" / "04"
    day.mkdir(parents=True, exist_ok=True)
    rows, files = [], []
    for n in range(count):
        capture = str(uuid.UUID(int=n + 1))
        rows.append((capture, f"2026/03/04/{capture}.webp"))
        files.append(day / f"{capture}.webp")
    old = time.time() - TWO_HOURS
    for path in files:
        path.write_bytes(b"RIFF")
        os.utime(path, (old, old))
    with sqlite3.connect(server.home / "server" / "jarvis.db") as db:
        db.executemany(
            "INSERT INTO captures (id, device_id, captured_at, received_at, monitor, width,"
            " height, mime_type, byte_size, sha256, redacted_regions, agent_version,"
            " storage_key) VALUES (?, 1, ?, ?, 0, 1, 1, 'image/webp', 4, ?, 0, 'test', ?)",
            [(c, _NOW, _NOW, "0" * 64, key) for c, key in rows],
        )
    return files


def _marked_missing(server: LiveServer) -> int:
    with sqlite3.connect(server.home / "server" / "jarvis.db") as db:
        (count,) = db.execute(
            "SELECT count(*) FROM captures WHERE file_missing_since IS NOT NULL"
        ).fetchone()
    return int(count)


def _many(tmp_path: Path, s3: S3Server | None = None) -> tuple[LiveServer, list[Path]]:
    if s3 is None:
        server = make_server(tmp_path / "home")
    else:
        bucket = s3.new_bucket()
        server = make_server(tmp_path / "home", s3.env(bucket), object_dir=s3.bucket_dir(bucket))
    server.start()  # creates the database; its storage is then filled
    server.stop()
    return server, _fill(server, MANY)


@pytest.fixture(params=["filesystem", "s3"])
def storage(request: pytest.FixtureRequest) -> S3Server | None:
    """None for a storage directory, the session's S3 server for a bucket."""
    if request.param == "filesystem":
        return None
    s3: S3Server = request.getfixturevalue("s3_server")
    return s3


def test_a_missing_or_empty_volume_still_stops_serve_with_many_captures(
    tmp_path: Path, storage: S3Server | None
) -> None:
    """With more captures than the background threshold, a start whose storage directory (or
    bucket) is gone, then empty (an unmounted volume), refuses before it listens, with the same
    line as before, exit code 1; no row is marked missing. With the volume back, it starts."""
    server, _files = _many(tmp_path, storage)
    volume = server.storage_dir.with_name("volume")

    def settle() -> None:
        if storage is not None:
            time.sleep(0.3)  # rclone's directory cache (100 ms) sees the change

    server.storage_dir.rename(volume)
    try:
        settle()
        _assert_refused(server, "is the volume mounted?", "does not exist")
        server.storage_dir.mkdir()
        settle()
        _assert_refused(server, "is the volume mounted?", f"holds only 0 of the {MANY}")
        assert _marked_missing(server) == 0
        server.storage_dir.rmdir()
        volume.rename(server.storage_dir)
        settle()
        server.start()
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/health/storage").json()["status"] == "ok"
    finally:
        server.stop()
    assert _marked_missing(server) == 0


def test_old_orphans_are_quarantined_after_the_server_answers(tmp_path: Path) -> None:
    """An old file no row lists, beside thousands of captures, is moved to quarantine with its
    bytes by the reconciliation that follows the start: the log says uvicorn was listening
    before it says what was reconciled. No capture's file moves."""
    server, files = _many(tmp_path)
    orphan = server.storage_dir / "2026" / "02" / "03" / f"{uuid.uuid4()}.jpg"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"an orphan's bytes")
    old = time.time() - TWO_HOURS
    os.utime(orphan, (old, old))
    earlier = server.log_path.stat().st_size  # the log of the start that made the database
    server.start()
    try:
        deadline = time.monotonic() + 120  # a bound only for a hung reconciliation
        while orphan.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        [quarantined] = server.quarantined_files()
        assert quarantined.name == orphan.name
        assert quarantined.read_bytes() == b"an orphan's bytes"
        assert all(path.exists() for path in files)
        log = server.log_path.read_bytes()[earlier:].decode()
        assert "files_quarantined=1" in log
        assert log.index("Uvicorn running") < log.index("reconciled storage")
    finally:
        server.stop()


def test_a_directory_full_of_unknown_files_found_after_start_stops_serve(tmp_path: Path) -> None:
    """The sample passes (every capture's file is there) but the full scan finds more old files
    that no row lists than files it knows: another database's storage mixed in. The server
    stops with exit code 1 and the refusal line naming both settings; no file is moved."""
    server, _files = _many(tmp_path)
    other = server.storage_dir / "2025" / "01" / "01"
    other.mkdir(parents=True)
    old = time.time() - TWO_HOURS
    for n in range(MANY + 50):
        path = other / f"{n:05d}.jpg"
        path.write_bytes(b"another database's file")
        os.utime(path, (old, old))
    before = server.stored_files()
    done = subprocess.run(
        [sys.executable, "-m", "jarvis_server", "serve", "--port", str(server.port)],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=300,  # a bound only for a server that never stops
        check=False,
    )
    assert done.returncode == 1, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("jarvis-server: JARVIS_STORAGE_DIR: "), done.stderr
    for word in ("does not list", "JARVIS_DATABASE_URL", "Nothing was changed"):
        assert word in line, done.stderr
    assert server.stored_files() == before
    assert server.quarantined_files() == []
    assert _marked_missing(server) == 0


def test_a_capture_deleted_during_a_reconciliation_leaves_no_quarantined_copy(
    tmp_path: Path, storage: S3Server | None
) -> None:
    """The race: a capture's row is deleted, a reconciliation running meanwhile lists its file
    as one no row lists and moves it to quarantine, then the delete removes the file. Deleting
    the capture removes the quarantined copy too: no image the user deleted stays behind."""
    if storage is None:
        server = make_server(tmp_path / "home")
    else:
        bucket = storage.new_bucket()
        server = make_server(
            tmp_path / "home", storage.env(bucket), object_dir=storage.bucket_dir(bucket)
        )
    server.start()
    try:
        token = server.create_token("laptop")
        capture = make_capture()
        with server.client(token) as client:
            assert upload(client, capture).status_code == 201
            [stored] = server.stored_files()
            # What the reconciliation did in between: the file moved aside, same relative key.
            aside = server.storage_dir / ".quarantine" / stored.relative_to(server.storage_dir)
            aside.parent.mkdir(parents=True, exist_ok=True)
            stored.rename(aside)
            if storage is not None:
                time.sleep(0.3)  # rclone's directory cache (100 ms) sees the move
            assert client.delete(f"{CAPTURES_PATH}/{capture.id}").json() == {"deleted": 1}
        assert server.quarantined_files() == []
        assert server.stored_files() == []
    finally:
        server.stop()
