"""The pause store: reading is a pure comparison with the clock, only pause and resume write."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from jarvis_agent.runtime.pause import INDEFINITELY, PauseStore, pause_in_force

NOW = datetime(2026, 11, 29, 10, 0).astimezone()


def test_reading_an_expired_pause_leaves_the_file_alone(tmp_path: Path) -> None:
    """A pause that ended reads as not paused, at start and while running; pause.json stays
    byte for byte as it was, for the next pause or resume to replace."""
    path = tmp_path / "pause.json"
    store = PauseStore(path)
    until = NOW + timedelta(minutes=5)
    store.set(until, NOW)
    saved = path.read_bytes()
    later = NOW + timedelta(minutes=6)
    assert store.read(later).until is None
    assert PauseStore(path).load(later) is None
    assert store.read(NOW).until == until  # still the pause that was set: nothing was cleared
    assert path.read_bytes() == saved


def test_pause_and_resume_round_trip_through_the_file(tmp_path: Path) -> None:
    """A pause until a time and one until resumed are read back by a new store (a restart);
    resume removes the file and reads back as not paused."""
    path = tmp_path / "pause.json"
    store = PauseStore(path)
    until = NOW + timedelta(hours=1)
    assert store.set(until, NOW) is None
    assert PauseStore(path).load(NOW) == until
    assert store.set(INDEFINITELY, NOW) == until
    assert json.loads(path.read_text(encoding="utf-8"))["indefinitely"] is True
    assert PauseStore(path).load(NOW + timedelta(days=400)) == INDEFINITELY
    assert store.set(None, NOW) == INDEFINITELY
    assert not path.exists()
    assert PauseStore(path).load(NOW) is None
    assert store.read(NOW).until is None


def test_resume_after_an_expired_pause_reports_no_pause(tmp_path: Path) -> None:
    """`set` returns the pause in force before it: an ended pause counts as none."""
    store = PauseStore(tmp_path / "pause.json")
    store.set(NOW + timedelta(minutes=1), NOW)
    assert store.set(None, NOW + timedelta(minutes=2)) is None


def test_an_unreadable_file_reads_as_not_paused(tmp_path: Path) -> None:
    """Garbage, a JSON list or a bad date in pause.json mean "not paused", and stay on disk."""
    path = tmp_path / "pause.json"
    for body in ("{not json", "[]", '{"until": "tomorrow"}'):
        path.write_text(body, encoding="utf-8")
        assert PauseStore(path).load(NOW) is None
        assert path.read_text(encoding="utf-8") == body


def test_changed_since_sees_a_pause_or_resume_after_the_read(tmp_path: Path) -> None:
    """A tick compares its one reading with later writes instead of reading the pause again."""
    store = PauseStore(tmp_path / "pause.json")
    reading = store.read(NOW)
    assert not store.changed_since(reading)
    store.set(INDEFINITELY, NOW)
    assert store.changed_since(reading)
    assert not store.changed_since(store.read(NOW))


def test_pause_in_force_is_a_comparison() -> None:
    """The end of a pause is exclusive: at `until` captures may run again."""
    until = NOW + timedelta(minutes=1)
    assert pause_in_force(until, NOW) == until
    assert pause_in_force(until, until) is None
    assert pause_in_force(INDEFINITELY, NOW) == INDEFINITELY
    assert pause_in_force(None, NOW) is None
