"""The privacy audit log: JSON lines, no titles unless allowed, bounded in size, private."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from jarvis_agent.capture.audit import AuditLog


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_events_are_json_lines_with_reasons_and_titles_when_allowed(tmp_path: Path) -> None:
    """Each event is one JSON line with its reasons; app and title appear when allowed."""
    log = AuditLog(tmp_path / "audit.jsonl")
    log.record("captured", ["screen changed"], app_name="XTerm", window_title="Notes", monitor=0)
    log.close()
    (entry,) = lines(tmp_path / "audit.jsonl")
    assert entry["event"] == "captured"
    assert entry["reasons"] == ["screen changed"]
    assert (entry["app_name"], entry["window_title"], entry["monitor"]) == ("XTerm", "Notes", 0)
    assert "at" in entry


def test_titles_and_app_names_are_left_out_when_omitted(tmp_path: Path) -> None:
    """With titles and app names omitted, neither appears anywhere in the file."""
    log = AuditLog(tmp_path / "audit.jsonl", include_titles=False, include_app_names=False)
    log.record("captured", ["x"], app_name="SecretApp", window_title="Secret title")
    log.close()
    text = (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    assert "Secret" not in text


def test_repeated_identical_events_are_counted_not_repeated(tmp_path: Path) -> None:
    """An unchanged screen skipped 100 times writes two lines: the first and a repeat count."""
    log = AuditLog(tmp_path / "audit.jsonl")
    for _ in range(100):
        log.record("skipped", ["unchanged since the last capture"], monitor=0)
    log.record("captured", ["changed"], monitor=0)
    log.close()
    entries = lines(tmp_path / "audit.jsonl")
    assert [e["event"] for e in entries] == ["skipped", "skipped", "captured"]
    assert entries[1]["repeat"] == 99


def test_log_is_bounded_by_rotation_and_private(tmp_path: Path) -> None:
    """Thousands of events never take more than max_bytes x (backups + 1); files are 0600."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=4096, backups=2)
    for n in range(2000):
        log.record("captured", [f"frame {n}"], capture_id=f"id-{n}")
    log.close()
    files = sorted(tmp_path.glob("audit.jsonl*"))
    assert len(files) == 3
    assert sum(f.stat().st_size for f in files) <= 3 * 4096 + 512
    for file in files:
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert lines(path)[-1]["reasons"] == ["frame 1999"]
