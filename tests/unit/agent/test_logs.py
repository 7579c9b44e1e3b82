"""The agent log: bounded by size, repeats counted, secrets masked."""

from __future__ import annotations

import logging
from pathlib import Path

from jarvis_agent.config import LoggingSettings
from jarvis_agent.logs import RepeatFilter, configure_logging


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _record(message: str) -> logging.LogRecord:
    return logging.LogRecord("jarvis.sync", logging.ERROR, __file__, 1, message, None, None)


def test_repeated_errors_are_counted_not_repeated() -> None:
    """The same error 500 times in a minute is written once, then once more with the count."""
    clock = _Clock()
    repeat = RepeatFilter(window=300, clock=clock)
    written = []
    for i in range(500):
        clock.now = i * 0.1
        record = _record("upload failed: connection refused")
        if repeat.filter(record):
            written.append(record.getMessage())
    clock.now = 400
    record = _record("upload failed: connection refused")
    assert repeat.filter(record)
    written.append(record.getMessage())
    assert written == [
        "upload failed: connection refused",
        "upload failed: connection refused [repeated 499 times in 7m]",
    ]


def test_warnings_differing_only_in_numbers_count_as_repeats() -> None:
    """A retry storm whose messages differ only in a delay or a time is one line, not thousands."""
    clock = _Clock()
    repeat = RepeatFilter(window=300, clock=clock)
    kept = [
        repeat.filter(_record(f"server unreachable; retrying in {i % 7}.{i % 10} s"))
        for i in range(1000)
    ]
    assert kept.count(True) == 1


def test_log_file_rotates_by_size_and_masks_tokens(tmp_path: Path) -> None:
    """Busy logging cannot grow the log beyond max_bytes x (backups + 1); tokens are masked."""
    path = tmp_path / "logs" / "agent.log"
    configure_logging(path, LoggingSettings(max_bytes=64 * 1024, backup_count=2))
    log = logging.getLogger("jarvis.test")
    try:
        log.error("sending with Authorization: Bearer abcdefghijklmnop123456")
        for i in range(5000):
            log.info("distinct event number %d with some padding to fill the file", i)
    finally:
        for name in ("jarvis", "jarvis_agent", "jarvis_sync", "apscheduler"):
            for handler in logging.getLogger(name).handlers:
                handler.close()
            logging.getLogger(name).handlers.clear()
    files = sorted(path.parent.iterdir())
    assert [f.name for f in files] == ["agent.log", "agent.log.1", "agent.log.2"]
    assert sum(f.stat().st_size for f in files) <= 3 * 64 * 1024 + 1024
    text = "".join(f.read_text() for f in files)
    assert "abcdefghijklmnop123456" not in text
