"""The agent's log: size-rotated, repeats counted instead of written again, no secrets.

Peers of this project have filled disks with hundreds of gigabytes of logs during retry storms.
Here the file rotates by size (RotatingFileHandler, a bounded number of backups), and a message
identical to one written within the last `window` seconds is not written again: it is counted,
and the count appears on the next occurrence after the window ("[repeated 240 times in 5m]").
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path

from jarvis_agent.config import LoggingSettings

__all__ = ["RepeatFilter", "SecretFilter", "configure_logging", "log_handler"]

LOGGER_NAMES = ("jarvis", "jarvis_agent", "jarvis_sync")
_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"
# Anything shaped like a credential in a message is masked; the code never logs them on purpose.
_SECRET = re.compile(
    r"(?i)(bearer\s+|authorization[:=]\s*|token[\"']?\s*[:=]\s*[\"']?|key[\"']?\s*[:=]\s*[\"']?)"
    r"([A-Za-z0-9._~+/=-]{8,})"
)


_NUMBER = re.compile(r"\d+")


class SecretFilter(logging.Filter):
    """Masks bearer tokens and key=... values that slip into a message or traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _SECRET.sub(lambda m: m.group(1) + "***", message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None:
            text = str(record.exc_info[1])
            if _SECRET.search(text):
                record.exc_text = None
                record.msg = f"{record.msg} ({type(record.exc_info[1]).__name__}: masked)"
                record.exc_info = None
        return True


class RepeatFilter(logging.Filter):
    """Writes a message once per `window` seconds; the repeats are counted and reported."""

    def __init__(
        self,
        window: float = 300.0,
        *,
        capacity: int = 512,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.window = window
        self._clock = clock
        self._capacity = capacity
        self._seen: OrderedDict[tuple[str, int, str], tuple[float, int]] = OrderedDict()
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        detail = f"{type(exc).__name__}: {exc}" if exc is not None else ""
        text = record.getMessage() + detail
        if record.levelno >= logging.WARNING:
            # "retry in 3.2 s", "next run at 18:10:01": a storm of these differs only in numbers.
            text = _NUMBER.sub("#", text)
        key = (record.name, record.levelno, text)
        now = self._clock()
        with self._lock:
            entry = self._seen.get(key)
            if entry is not None and now - entry[0] < self.window:
                self._seen[key] = (entry[0], entry[1] + 1)
                self._seen.move_to_end(key)
                return False
            self._seen[key] = (now, 0)
            self._seen.move_to_end(key)
            while len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
        if entry is not None and entry[1]:
            minutes = max(1, round((now - entry[0]) / 60))
            record.msg = f"{record.getMessage()} [repeated {entry[1]} times in {minutes}m]"
            record.args = None
        return True


def log_handler(path: Path, settings: LoggingSettings) -> logging.Handler:
    """A size-rotating file handler with the secret and repeat filters."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handler = logging.handlers.RotatingFileHandler(
        path,
        maxBytes=settings.max_bytes,
        backupCount=settings.backup_count,
        encoding="utf-8",
        delay=True,
    )
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(SecretFilter())
    handler.addFilter(RepeatFilter())
    handler.set_name("jarvis-file")
    return handler


def configure_logging(path: Path, settings: LoggingSettings, *, stderr: bool = False) -> None:
    """Send our loggers (and the scheduler's errors) to the rotating file; idempotent.

    APScheduler's warnings ("skipped: maximum number of running instances", "missed by") are
    how coalescing works after a slow capture or a suspend, not problems, so only errors are kept.
    """
    handlers = [log_handler(path, settings)]
    if stderr:
        console = logging.StreamHandler()
        console.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        console.addFilter(SecretFilter())
        console.addFilter(RepeatFilter())
        handlers.append(console)
    for name, level in (*((n, settings.level) for n in LOGGER_NAMES), ("apscheduler", "ERROR")):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.propagate = False
        for old in list(logger.handlers):
            logger.removeHandler(old)
            if old not in handlers:
                old.close()
        for handler in handlers:
            logger.addHandler(handler)
