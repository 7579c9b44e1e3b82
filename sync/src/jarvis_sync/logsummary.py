"""Keeps a retry storm from becoming a log storm: identical failures are counted, not repeated."""

from __future__ import annotations

import logging
import threading


class FailureLog:
    """Logs the first of a run of identical failures, then a count when the failure changes."""

    def __init__(self, logger: logging.Logger) -> None:
        self._log = logger
        self._lock = threading.Lock()
        self._last: str | None = None
        self._repeats = 0

    def failure(self, message: str) -> None:
        """Record a failure; logged only when it differs from the previous one."""
        with self._lock:
            if message == self._last:
                self._repeats += 1
                return
            self._flush()
            self._last = message
            self._log.warning("%s", message)

    def recovered(self, message: str) -> None:
        """The failures stopped: log how many were not shown, then `message`."""
        with self._lock:
            if self._last is None:
                return
            self._flush()
            self._last = None
            self._log.info("%s", message)

    def _flush(self) -> None:
        if self._repeats:
            self._log.warning("%d more identical failures: %s", self._repeats, self._last)
        self._repeats = 0
