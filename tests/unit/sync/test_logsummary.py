"""A retry storm does not become a log storm."""

from __future__ import annotations

import logging

import pytest

from jarvis_sync.logsummary import FailureLog


def test_identical_failures_are_counted_not_repeated(caplog: pytest.LogCaptureFixture) -> None:
    """A thousand identical failures log one line, then a count when the outage ends."""
    log = FailureLog(logging.getLogger("jarvis.sync.test"))
    with caplog.at_level(logging.INFO, logger="jarvis.sync.test"):
        for _ in range(1000):
            log.failure("upload failed: HTTP 503")
        log.failure("upload failed: cannot connect")
        log.recovered("Sync recovered")
    assert [r.getMessage() for r in caplog.records] == [
        "upload failed: HTTP 503",
        "upload failed: cannot connect",
        "999 more identical failures: upload failed: HTTP 503",
        "Sync recovered",
    ]


def test_alternating_failures_stay_one_line_per_kind(caplog: pytest.LogCaptureFixture) -> None:
    """503 and 500 interleaved by concurrent uploads log each kind once, then their counts."""
    log = FailureLog(logging.getLogger("jarvis.sync.test"))
    with caplog.at_level(logging.INFO, logger="jarvis.sync.test"):
        for _ in range(50):
            log.failure("HTTP 503")
            log.failure("HTTP 500")
        log.recovered("Sync recovered")
    assert [r.getMessage() for r in caplog.records] == [
        "HTTP 503",
        "HTTP 500",
        "49 more identical failures: HTTP 503",
        "49 more identical failures: HTTP 500",
        "Sync recovered",
    ]


def test_a_long_outage_logs_a_summary_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    """An outage that goes on logs the counts every interval, not every failure."""
    now = [0.0]
    log = FailureLog(logging.getLogger("jarvis.sync.test"), summary_every=600, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="jarvis.sync.test"):
        for _ in range(3 * 60):  # three intervals, one failure every 10 s
            log.failure("cannot connect")
            now[0] += 10
    assert [r.getMessage() for r in caplog.records] == [
        "cannot connect",
        "60 more identical failures: cannot connect",
        "60 more identical failures: cannot connect",
    ]


def test_messages_with_changing_text_are_bounded(caplog: pytest.LogCaptureFixture) -> None:
    """Failures whose text always differs stop adding lines once many kinds have been seen."""
    log = FailureLog(logging.getLogger("jarvis.sync.test"))
    with caplog.at_level(logging.INFO, logger="jarvis.sync.test"):
        for n in range(1000):
            log.failure(f"capture {n} refused")
    assert len(caplog.records) == 33  # 32 kinds, then "other failures" once


def test_recovery_without_failures_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """Successes in a healthy run do not write anything."""
    log = FailureLog(logging.getLogger("jarvis.sync.test"))
    with caplog.at_level(logging.INFO, logger="jarvis.sync.test"):
        log.recovered("Sync recovered")
    assert caplog.records == []
