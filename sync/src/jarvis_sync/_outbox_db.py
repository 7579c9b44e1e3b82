"""The outbox's SQLite database and directory lock: schema, opening, telling damage apart."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import IO, Final

SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS captures (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('pending', 'in_flight', 'dead')),
    meta BLOB NOT NULL,
    thumb BLOB,
    captured_at REAL NOT NULL,
    enqueued_at REAL NOT NULL,
    blob_bytes INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at REAL NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS captures_due ON captures (state, next_attempt_at, seq);
CREATE TABLE IF NOT EXISTS sent (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    meta BLOB NOT NULL,
    thumb BLOB,
    sent_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value BLOB NOT NULL);
"""


def is_damage(exc: sqlite3.DatabaseError) -> bool:
    """Whether SQLite says the file itself is broken (as opposed to unreachable or full)."""
    if isinstance(exc, QuickCheckFailed):
        return True
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text or "corrupt" in text


class QuickCheckFailed(sqlite3.DatabaseError):
    """PRAGMA quick_check found damage."""


def open_database(path: Path) -> sqlite3.Connection:
    """Open (creating) the outbox database: WAL, checked, schema in place, owner-only."""
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30.0)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        # Only accepting a capture must survive a power cut (put() commits with FULL). A lost
        # claim, ack or retry time is harmless: recovery requeues, the server replays (200).
        db.execute("PRAGMA synchronous=NORMAL")
        # Checkpoint often and truncate the WAL after each checkpoint: it counts against
        # the byte cap, and a WAL left at its high-water mark would waste that space.
        db.execute("PRAGMA wal_autocheckpoint=256")
        db.execute("PRAGMA journal_size_limit=1048576")
        ok = db.execute("PRAGMA quick_check").fetchone()
        if ok is None or ok[0] != "ok":
            raise QuickCheckFailed(f"quick_check reported {ok[0] if ok else 'nothing'}")
        db.executescript(SCHEMA)
    except BaseException:
        db.close()
        raise
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)
    return db


class DirectoryLock:
    """An advisory, process-wide lock on the outbox directory; released by the OS on exit."""

    def __init__(self, path: Path) -> None:
        self._file: IO[bytes] | None = None
        try:
            import fcntl
        except ImportError:  # Windows: one agent per user is enforced by the runtime's lock
            self.owned = True
            return
        handle = path.open("a+b")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            self.owned = False
            return
        self._file = handle
        self.owned = True

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the flock
            self._file = None
