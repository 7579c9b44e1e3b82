"""The user's pause, kept in memory and in `pause.json` so it survives a restart.

Reading is a pure comparison with the clock: an expired pause reads as "not paused" and its file
stays where it is until the next `set` (pause or resume) replaces or removes it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal, TypeAlias

__all__ = ["INDEFINITELY", "Pause", "PauseReading", "PauseStore", "pause_in_force"]

log = logging.getLogger("jarvis.service")

INDEFINITELY: Literal["indefinitely"] = "indefinitely"
# Until when captures are paused: a time, until resumed, or not paused.
Pause: TypeAlias = datetime | Literal["indefinitely"] | None


def pause_in_force(pause: Pause, now: datetime) -> Pause:
    """`pause` if it still holds at `now`, else None (a pause that ended)."""
    if isinstance(pause, datetime) and now >= pause:
        return None
    return pause


@dataclass(frozen=True, slots=True)
class PauseReading:
    """The pause as one read saw it; `revision` tells whether it was changed since."""

    until: Pause
    revision: int


class PauseStore:
    """The pause: `read` it (any thread, never writes), `set` it (pause and resume only)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._until: Pause = None
        self._revision = 0

    @property
    def path(self) -> Path:
        return self._path

    def load(self, now: datetime) -> Pause:
        """Take the pause saved by an earlier run; returns it if still in force at `now`."""
        saved = self._read_file()
        with self._lock:
            self._until = saved
            self._revision += 1
        return pause_in_force(saved, now)

    def read(self, now: datetime) -> PauseReading:
        """The pause in force at `now`."""
        with self._lock:
            return PauseReading(pause_in_force(self._until, now), self._revision)

    def changed_since(self, reading: PauseReading) -> bool:
        """Whether a `set` came after `reading` was taken."""
        with self._lock:
            return self._revision != reading.revision

    def set(self, until: Pause, now: datetime) -> Pause:
        """Pause until `until` (None: resume) and save it; returns the pause in force before."""
        with self._lock:
            before = pause_in_force(self._until, now)
            self._until = until
            self._revision += 1
            self._write_file(until)
        return before

    def _read_file(self) -> Pause:
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            log.warning("ignoring an unreadable %s", self._path)
            return None
        if not isinstance(data, dict):
            log.warning("ignoring an unreadable %s", self._path)
            return None
        if data.get("indefinitely"):
            return INDEFINITELY
        try:
            return datetime.fromisoformat(str(data.get("until")))
        except ValueError:
            return None

    def _write_file(self, until: Pause) -> None:
        try:
            if until is None:
                self._path.unlink(missing_ok=True)
                return
            body = {
                "indefinitely": until == INDEFINITELY,
                "until": until.isoformat() if isinstance(until, datetime) else None,
            }
            tmp = self._path.with_suffix(".tmp")
            tmp.write_text(json.dumps(body), encoding="utf-8")
            os.replace(tmp, self._path)
        except OSError as exc:
            log.warning("could not remember the pause across restarts: %s", exc)
