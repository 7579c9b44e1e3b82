"""Keeps a retry storm from becoming a log storm: identical failures are counted, not repeated.

During one outage each distinct failure is logged the first time it happens; later repeats are
only counted. The counts are logged when the outage ends, and at most every `summary_every`
while it goes on, so a day offline writes a few lines an interval rather than one per attempt.
Failures that alternate (503, 500, 503, ...) under concurrent uploads stay one line per kind.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

# Distinct messages tracked per outage; past this they are counted together, so messages that
# embed changing text cannot grow memory or the log without bound.
_MAX_KINDS = 32
_OTHER = "other failures"


class FailureLog:
    """Logs the first of each kind of failure in an outage, then counts of the repeats."""

    def __init__(
        self,
        logger: logging.Logger,
        *,
        summary_every: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._summary_every = summary_every
        self._clock = clock
        self._lock = threading.Lock()
        self._repeats: dict[str, int] = {}
        self._in_outage = False
        self._last_summary = 0.0

    def failure(self, message: str) -> None:
        """Record a failure: logged the first time its kind is seen in this outage."""
        with self._lock:
            now = self._clock()
            if not self._in_outage:
                self._in_outage = True
                self._last_summary = now
            if message not in self._repeats and len(self._repeats) >= _MAX_KINDS:
                message = _OTHER
            if message in self._repeats:
                self._repeats[message] += 1
            else:
                self._repeats[message] = 0
                self._log.warning("%s", message)
            if now - self._last_summary >= self._summary_every:
                self._flush()
                self._last_summary = now

    def recovered(self, message: str) -> None:
        """The failures stopped: log how many were not shown, then `message`."""
        with self._lock:
            if not self._in_outage:
                return
            self._flush()
            self._repeats.clear()
            self._in_outage = False
            self._log.info("%s", message)

    def _flush(self) -> None:
        for message, count in self._repeats.items():
            if count:
                self._log.warning("%d more identical failures: %s", count, message)
                self._repeats[message] = 0
