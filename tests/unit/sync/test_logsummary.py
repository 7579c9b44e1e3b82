"""A retry storm does not become a log storm."""

from __future__ import annotations

import logging

import pytest

from jarvis_sync.logsummary import FailureLog


def test_identical_failures_are_counted_not_repeated(caplog: pytest.LogCaptureFixture) -> None:
    """A thousand identical failures log one line, then a count when the failure changes."""
    log = FailureLog(logging.getLogger("jarvis.sync.test"))
    with caplog.at_level(logging.INFO, logger="jarvis.sync.test"):
        for _ in range(1000):
            log.failure("upload failed: HTTP 503")
        log.failure("upload failed: cannot connect")
        log.recovered("Sync recovered")
    assert [r.getMessage() for r in caplog.records] == [
        "upload failed: HTTP 503",
        "999 more identical failures: upload failed: HTTP 503",
        "upload failed: cannot connect",
        "Sync recovered",
    ]


def test_recovery_without_failures_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    """Successes in a healthy run do not write anything."""
    log = FailureLog(logging.getLogger("jarvis.sync.test"))
    with caplog.at_level(logging.INFO, logger="jarvis.sync.test"):
        log.recovered("Sync recovered")
    assert caplog.records == []
