"""The privacy audit log: what was captured, skipped, redacted or dropped, and why.

JSON lines, one event per line, in the agent's log directory. Never pixels; window titles and app
names only when the user allows them in metadata (`omit_titles` / `omit_app_names`). The file is
bounded: it rotates at `max_bytes` and keeps `backups` old files. Identical consecutive events (an
unchanged screen every 15 s) are counted and written once with a `repeat` count, so a quiet desktop
does not fill the log.
"""

from __future__ import annotations

import io
import json
import logging
import logging.handlers
import os
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["AuditLog"]

DEFAULT_MAX_BYTES = 5 * 1024 * 1024
DEFAULT_BACKUPS = 2


class _PrivateRotatingHandler(logging.handlers.RotatingFileHandler):
    """A rotating handler whose files are readable by the user only (the log names windows)."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        stream = os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)
        assert isinstance(stream, io.TextIOWrapper)
        return stream


class AuditLog:
    """Writes audit events; thread-safe; call `close()` on shutdown (flushes a pending repeat)."""

    def __init__(
        self,
        path: Path,
        *,
        include_titles: bool = True,
        include_app_names: bool = True,
        max_bytes: int = DEFAULT_MAX_BYTES,
        backups: int = DEFAULT_BACKUPS,
    ) -> None:
        if max_bytes < 1024:
            raise ValueError(f"audit log max_bytes={max_bytes} is too small; use at least 1024")
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = path
        self.include_titles = include_titles
        self.include_app_names = include_app_names
        self._handler = _PrivateRotatingHandler(
            path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True
        )
        self._handler.setFormatter(logging.Formatter("%(message)s"))
        # A private logger object (not logging.getLogger): audit lines never reach the root logger.
        self._logger = logging.Logger("jarvis.audit", logging.INFO)
        self._logger.addHandler(self._handler)
        self._lock = threading.Lock()
        self._pending: dict[str, Any] | None = None
        self._pending_key: str | None = None
        self._repeat = 0

    def configure(self, *, include_titles: bool, include_app_names: bool) -> None:
        with self._lock:
            self.include_titles = include_titles
            self.include_app_names = include_app_names

    def record(
        self,
        event: str,
        reasons: Sequence[str] = (),
        *,
        at: datetime | None = None,
        app_name: str | None = None,
        window_title: str | None = None,
        **fields: Any,
    ) -> None:
        """Append one event (captured, skipped, dropped, gated, error) with its reasons."""
        entry: dict[str, Any] = {"event": event, "reasons": list(reasons)}
        entry.update({k: v for k, v in fields.items() if v is not None})
        with self._lock:
            if self.include_app_names and app_name is not None:
                entry["app_name"] = app_name
            if self.include_titles and window_title is not None:
                entry["window_title"] = window_title
            key = json.dumps(entry, sort_keys=True, default=str)
            stamp = (at or datetime.now(UTC)).isoformat()
            if key == self._pending_key and self._pending is not None:
                self._repeat += 1
                self._pending["last_at"] = stamp
                return
            self._flush_pending()
            entry = {"at": stamp, **entry}
            self._write(entry)
            # Only events without a capture id can repeat identically (every capture is unique).
            self._pending, self._pending_key, self._repeat = entry, key, 0

    def _write(self, entry: dict[str, Any]) -> None:
        self._logger.info(json.dumps(entry, ensure_ascii=False, default=str))

    def _flush_pending(self) -> None:
        if self._pending is not None and self._repeat:
            self._write({**self._pending, "repeat": self._repeat})
        self._pending, self._pending_key, self._repeat = None, None, 0

    def flush(self) -> None:
        with self._lock:
            self._flush_pending()
            self._handler.flush()

    def close(self) -> None:
        with self._lock:
            self._flush_pending()
            self._handler.close()
            self._logger.removeHandler(self._handler)
