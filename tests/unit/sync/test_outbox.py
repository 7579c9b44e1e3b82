"""The outbox on a real file system and SQLite: durability, recovery, caps, encryption at rest."""

from __future__ import annotations

import logging
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from jarvis_sync import Outbox, OutboxError, OutboxFullError
from jarvis_sync.cipher import new_key
from jarvis_sync.outbox import SENT_HISTORY, DigestedBytes

from .factory import capture, metadata_for, png_bytes


@pytest.fixture
def key() -> bytes:
    return new_key()


def all_file_bytes(root: Path) -> bytes:
    return b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())


def test_accepted_capture_survives_reopen_and_reads_back(tmp_path: Path, key: bytes) -> None:
    """A capture put in the outbox is still there, byte for byte, after the outbox is reopened."""
    metadata, data = capture()
    with Outbox.open(tmp_path, key=key) as outbox:
        outbox.put(metadata, data, thumbnail=b"thumb")
    with Outbox.open(tmp_path, key=key) as outbox:
        assert outbox.stats().pending == 1
        [entry] = outbox.entries()
        assert entry.metadata == metadata
        assert outbox.read(metadata.id) == data
        assert outbox.recent()[0].thumbnail == b"thumb"


def test_nothing_is_stored_in_clear(tmp_path: Path, key: bytes) -> None:
    """Image bytes, window titles and thumbnails never appear in clear in any outbox file."""
    data = png_bytes(64, 64)
    metadata = metadata_for(data, width=64, height=64, title="Secret-Project-Title-4711")
    with Outbox.open(tmp_path, key=key) as outbox:
        outbox.put(metadata, data, thumbnail=b"THUMBNAIL-PIXELS-0042")
        everything = all_file_bytes(tmp_path)
    assert data[40:200] not in everything
    assert b"Secret-Project-Title-4711" not in everything
    assert b"THUMBNAIL-PIXELS-0042" not in everything


def test_files_are_private_to_the_user(tmp_path: Path, key: bytes) -> None:
    """Blobs, the database and the directories are readable by the owner only."""
    metadata, data = capture()
    with Outbox.open(tmp_path / "ob", key=key) as outbox:
        outbox.put(metadata, data)
    for path in (tmp_path / "ob").rglob("*"):
        if path.suffix in (".blob", ".db") or path.is_dir():
            assert path.stat().st_mode & 0o077 == 0, path


@pytest.mark.parametrize("wrap", [bytes, DigestedBytes])
def test_bad_captures_are_refused_with_a_clear_message(
    tmp_path: Path, key: bytes, wrap: type[bytes]
) -> None:
    """Wrong size, wrong hash and a reused id are refused, naming the problem; nothing is kept.
    Bytes that carry their digest (as the pipeline hands them over) are checked just the same."""
    metadata, plain = capture()
    data = wrap(plain)
    with Outbox.open(tmp_path, key=key) as outbox:
        with pytest.raises(OutboxError, match=r"metadata says .* bytes but the image has"):
            outbox.put(metadata, data + b"x")
        with pytest.raises(OutboxError, match="sha256 does not match"):
            outbox.put(metadata.model_copy(update={"sha256": "0" * 64}), data)
        outbox.put(metadata, data)
        other_data = png_bytes()
        with pytest.raises(OutboxError, match="already in the outbox"):
            outbox.put(metadata_for(other_data, capture_id=metadata.id), other_data)
        assert outbox.read(metadata.id) == data
        assert outbox.stats().pending == 1


def test_recovery_requeues_interrupted_sends(tmp_path: Path, key: bytes) -> None:
    """Captures that were in flight when the process died are pending again after a restart."""
    with Outbox.open(tmp_path, key=key) as outbox:
        for _ in range(3):
            outbox.put(*capture())
        assert len(outbox.claim(2)) == 2
        assert outbox.stats().in_flight == 2
    with Outbox.open(tmp_path, key=key) as outbox:
        stats = outbox.stats()
        assert (stats.pending, stats.in_flight) == (3, 0)


def test_recovery_quarantines_missing_and_damaged_blobs_and_sweeps_leftovers(
    tmp_path: Path, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Missing or damaged blobs are quarantined and counted; orphans and temp files removed."""
    captures = [capture() for _ in range(4)]
    with Outbox.open(tmp_path, key=key) as outbox:
        for metadata, data in captures:
            outbox.put(metadata, data)
    (tmp_path / "blobs" / f"{captures[0][0].id}.blob").unlink()
    damaged = tmp_path / "blobs" / f"{captures[1][0].id}.blob"
    damaged.write_bytes(damaged.read_bytes()[:-7])
    (tmp_path / "blobs" / "0000-orphan.blob").write_bytes(b"left from a crash")
    (tmp_path / "tmp" / "x.blob.tmp").write_bytes(b"half a write")
    with caplog.at_level(logging.ERROR), Outbox.open(tmp_path, key=key) as outbox:
        stats = outbox.stats()
        assert stats.pending == 2
        assert stats.quarantined_total == 2
        assert {e.id for e in outbox.entries()} == {c[0].id for c in captures[2:]}
    assert "sealed file is missing" in caplog.text
    assert sorted(p.name for p in (tmp_path / "blobs").iterdir()) == sorted(
        f"{c[0].id}.blob" for c in captures[2:]
    )
    assert list((tmp_path / "tmp").iterdir()) == []


def test_damaged_database_is_set_aside_not_crash_looped(
    tmp_path: Path, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """A database that is not SQLite any more is moved aside; the outbox starts afresh."""
    with Outbox.open(tmp_path, key=key) as outbox:
        outbox.put(*capture())
    (tmp_path / "outbox.db").write_bytes(b"this is not a database" * 100)
    with caplog.at_level(logging.ERROR), Outbox.open(tmp_path, key=key) as outbox:
        outbox.put(*capture())
        stats = outbox.stats()
        assert stats.pending == 1
        assert stats.quarantined_total == 1  # the blob the damaged database described
    assert "damaged" in caplog.text
    assert any(p.name.startswith("outbox.db.damaged-") for p in tmp_path.iterdir())


def test_lost_key_quarantines_old_captures_with_a_clear_message(
    tmp_path: Path, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Opened with another key, old captures are quarantined (counted, explained), no crash."""
    with Outbox.open(tmp_path, key=key) as outbox:
        for _ in range(3):
            outbox.put(*capture())
    with caplog.at_level(logging.ERROR), Outbox.open(tmp_path, key=new_key()) as outbox:
        stats = outbox.stats()
        assert (stats.pending, stats.quarantined_total) == (0, 3)
        outbox.put(*capture())
        assert outbox.stats().pending == 1
    assert "not the key these captures were sealed with" in caplog.text
    assert len(list((tmp_path / "blobs").iterdir())) == 1


def test_full_outbox_evicts_oldest_and_counts_across_restarts(
    tmp_path: Path, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """Past the byte cap the oldest unsent captures are evicted, logged and counted for good."""
    datas = {}
    with (
        caplog.at_level(logging.WARNING),
        Outbox.open(tmp_path, key=key, max_bytes=2_000_000) as ob,
    ):
        for _ in range(60):
            data = png_bytes(128, 128)
            metadata = metadata_for(data, width=128, height=128)
            datas[metadata.id] = data
            ob.put(metadata, data)
        stats = ob.stats()
        assert stats.total_bytes <= 2_000_000
        assert stats.evicted_total > 0
        assert stats.pending + stats.evicted_total == 60
        kept = [e.id for e in ob.entries(limit=100)]
        assert kept == list(datas)[-len(kept) :]  # the newest survive
    assert "evicted" in caplog.text
    with Outbox.open(tmp_path, key=key, max_bytes=2_000_000) as ob:
        assert ob.stats().evicted_total == stats.evicted_total


def test_reject_newest_keeps_the_queue_and_says_so(tmp_path: Path, key: bytes) -> None:
    """With when_full="reject_newest" the new capture is refused with a message; nothing evicted."""
    with Outbox.open(tmp_path, key=key, max_bytes=2_000_000, when_full="reject_newest") as ob:
        with pytest.raises(OutboxFullError, match="outbox is full"):  # noqa: PT012
            for _ in range(60):
                data = png_bytes(128, 128)
                ob.put(metadata_for(data, width=128, height=128), data)
        assert ob.stats().evicted_total == 0
        assert ob.stats().pending > 0


def test_capture_bigger_than_the_cap_is_refused(tmp_path: Path, key: bytes) -> None:
    """A capture that cannot fit even in an empty outbox is refused, naming the limit."""
    data = png_bytes(256, 256)
    with Outbox.open(tmp_path, key=key, max_bytes=150_000) as ob:
        with pytest.raises(OutboxFullError, match="too small"):
            ob.put(metadata_for(data, width=256, height=256), data)
        assert list((tmp_path / "blobs").iterdir()) == []


def test_age_cap_evicts_old_captures(tmp_path: Path, key: bytes) -> None:
    """With an age cap, captures older than it are evicted and counted."""
    now = datetime.now(UTC)
    with Outbox.open(tmp_path, key=key, max_age=timedelta(days=1)) as ob:
        old, old_data = capture(captured_at=now - timedelta(days=2))
        ob.put(old, old_data)
        ob.put(*capture(captured_at=now))
        stats = ob.stats()
        assert (stats.pending, stats.evicted_total) == (1, 1)


def test_dead_letters_are_kept_retried_on_request_and_purged(tmp_path: Path, key: bytes) -> None:
    """A refused capture stays with its reason until retried or purged by the user."""
    with Outbox.open(tmp_path, key=key) as ob:
        for _ in range(3):
            ob.put(*capture())
        first, second = ob.claim(2)
        ob.bury(first.id, "HTTP 415 Unsupported media type")
        ob.bury(second.id, "HTTP 422 Content mismatch")
        [dead, *_] = ob.entries(state="dead")
        assert dead.last_error == "HTTP 415 Unsupported media type"
        assert ob.claim(5) != []  # the third one; dead letters are never claimed
        assert ob.retry_dead() == 2
        assert ob.stats().dead == 0
        assert ob.stats().dead_total == 2
        [again] = ob.claim(1)
        ob.bury(again.id, "HTTP 400")
        assert ob.purge(dead_only=True) == 1
        assert ob.stats().dead == 0


def test_sent_history_keeps_the_latest_for_recent_captures(tmp_path: Path, key: bytes) -> None:
    """After sending, metadata and thumbnails of the last 200 captures remain for the tray."""
    with Outbox.open(tmp_path, key=key) as ob:
        for i in range(SENT_HISTORY + 5):
            metadata, data = capture()
            ob.put(metadata, data, thumbnail=f"t{i}".encode())
            [entry] = ob.claim(1)
            ob.ack(entry.id)
        recent = ob.recent(limit=1000)
        assert len(recent) == SENT_HISTORY
        assert {r.state for r in recent} == {"sent"}
        assert recent[0].thumbnail == f"t{SENT_HISTORY + 4}".encode()
        assert list((tmp_path / "blobs").iterdir()) == []
        assert ob.stats().sent_total == SENT_HISTORY + 5


def test_second_opener_does_not_disturb_the_owner(tmp_path: Path, key: bytes) -> None:
    """A second process-level opener (the CLI next to the agent) never requeues in-flight work."""
    owner = Outbox.open(tmp_path, key=key)
    try:
        owner.put(*capture())
        [entry] = owner.claim(1)
        with Outbox.open(tmp_path, key=key) as cli_view:
            assert cli_view.stats().in_flight == 1
        owner.ack(entry.id)
        assert owner.stats().sent_total == 1
    finally:
        owner.close()


def test_integrity_after_heavy_use(tmp_path: Path, key: bytes) -> None:
    """After many puts, acks and evictions the database passes SQLite's integrity check."""
    with Outbox.open(tmp_path, key=key, max_bytes=2_000_000) as ob:
        for _ in range(80):
            data = png_bytes(128, 128)
            ob.put(metadata_for(data, width=128, height=128), data)
            for entry in ob.claim(1):
                ob.ack(entry.id)
    db = sqlite3.connect(tmp_path / "outbox.db")
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    db.close()


def test_unwritable_directory_gives_a_clear_error(tmp_path: Path, key: bytes) -> None:
    """An outbox directory that cannot be created is reported with its path and what to do."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OutboxError, match="cannot create the outbox directory"):
        Outbox.open(blocker / "outbox", key=key)
    assert os.path.exists(blocker)


def test_unreadable_database_is_reported_not_set_aside(tmp_path: Path, key: bytes) -> None:
    """A database the process may not open is reported (permissions), never moved aside."""
    with Outbox.open(tmp_path, key=key) as outbox:
        outbox.put(*capture())
    (tmp_path / "outbox.db").unlink()
    (tmp_path / "outbox.db").mkdir()  # something that is not a file where the database belongs
    with pytest.raises(OutboxError, match="cannot open the outbox database"):
        Outbox.open(tmp_path, key=key)
    assert (tmp_path / "outbox.db").is_dir()
    assert not any(p.name.startswith("outbox.db.damaged") for p in tmp_path.iterdir())


def test_recovery_quarantines_a_blob_that_fails_its_check(
    tmp_path: Path, key: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """A blob altered on disk without changing its size is found at start-up and quarantined."""
    good, good_data = capture()
    bad, bad_data = capture()
    with Outbox.open(tmp_path, key=key) as outbox:
        outbox.put(good, good_data)
        outbox.put(bad, bad_data)
    blob = tmp_path / "blobs" / f"{bad.id}.blob"
    raw = bytearray(blob.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    blob.write_bytes(bytes(raw))
    with caplog.at_level(logging.ERROR), Outbox.open(tmp_path, key=key) as outbox:
        assert [e.id for e in outbox.entries()] == [good.id]
        assert outbox.stats().quarantined_total == 1
        assert outbox.read(good.id) == good_data
    assert "fails its check" in caplog.text


def test_cap_accounting_follows_every_change_including_another_openers(
    tmp_path: Path, key: bytes
) -> None:
    """The queued total the byte cap is enforced against follows puts, evictions, acks and a
    purge by another opener (the CLI): after the CLI empties a full queue, the agent queues
    again without evicting anything, and status shows the bytes actually on disk."""

    def put_some(ob: Outbox, count: int) -> None:
        for _ in range(count):
            data = png_bytes(128, 128)
            ob.put(metadata_for(data, width=128, height=128), data)

    def blob_bytes() -> int:
        return sum(p.stat().st_size for p in (tmp_path / "blobs").iterdir())

    with Outbox.open(tmp_path, key=key, max_bytes=2_000_000) as ob:
        put_some(ob, 60)
        full = ob.stats()
        assert full.evicted_total > 0
        assert full.queued_bytes == blob_bytes()
        with Outbox.open(tmp_path, key=key, max_bytes=2_000_000) as cli:
            assert cli.purge() == full.pending
        assert ob.stats().queued_bytes == 0
        put_some(ob, full.pending // 2)
        assert ob.stats().evicted_total == full.evicted_total
        assert ob.stats().queued_bytes == blob_bytes()
        for entry in ob.claim(5):
            ob.ack(entry.id)
        assert ob.stats().queued_bytes == blob_bytes()
        put_some(ob, 5)
        assert ob.stats().evicted_total == full.evicted_total
        assert ob.stats().queued_bytes == blob_bytes()
