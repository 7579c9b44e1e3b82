"""The outbox: a crash-safe, encrypted, bounded store-and-forward queue of captures.

Rows live in SQLite (WAL); image bytes live in files sealed with AES-256-GCM.
A capture is accepted once its row commits, and its sealed blob is durable (fsync, rename,
directory fsync) before that. States: pending -> in_flight -> done (row and blob removed; the
metadata and thumbnail move to a short "sent" history) or dead (kept until the user retries or
purges). Metadata and thumbnails in the database are sealed too: window titles are private.

The first process to open a directory owns it (an advisory lock) and runs start-up recovery;
other openers (the CLI next to a running agent) read and edit rows but never recover.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Concatenate, Final, ParamSpec, Self, TypeVar
from uuid import UUID

from pydantic import ValidationError

from jarvis_contract import CaptureMetadata, DigestedBytes
from jarvis_sync._files import file_size, fsync_directory, write_durably
from jarvis_sync._outbox_db import DirectoryLock, is_damage, open_database
from jarvis_sync.cipher import BlobCipher
from jarvis_sync.errors import OutboxError, OutboxFullError, OutboxKeyError
from jarvis_sync.outbox_models import (
    EntryState,
    OutboxEntry,
    OutboxStats,
    RecentCapture,
    RecentState,
    WhenFull,
)
from jarvis_sync.sizes import format_size

log = logging.getLogger("jarvis.sync.outbox")

DEFAULT_MAX_BYTES: Final = 2 * 1024**3
SENT_HISTORY: Final = 200  # sent captures whose metadata and thumbnail stay for "Recent captures"
_ROW_OVERHEAD: Final = 512  # rough bytes a row adds to the database besides its sealed fields
_DB_NAME: Final = "outbox.db"
_EVICTION_LOG_INTERVAL: Final = 60.0
_VERIFY_AT_START_BYTES: Final = 256 * 1024**2  # blob bytes decrypted and hashed at start-up
# Space kept aside so that, on a full disk, the queue can still drain (every claim and ack
# writes to the WAL; each ack then frees a blob). Released when the disk fills, remade later.
_RESERVE_BYTES: Final = 1024 * 1024
_KEY_CHECK: Final = b"jarvis outbox key check"


def _aad(kind: str, capture_id: str) -> bytes:
    return f"{kind}:{capture_id}".encode()


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _may_use_reserve(
    method: Callable[Concatenate[Outbox, _P], _R],
) -> Callable[Concatenate[Outbox, _P], _R]:
    """On a full disk, release the reserve and try once more (the operation frees space)."""

    @functools.wraps(method)
    def wrapper(self: Outbox, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except OutboxFullError:
            if not self._release_reserve():
                raise
            return method(self, *args, **kwargs)

    return wrapper


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


class Outbox:
    """Local store-and-forward queue of sealed captures. Thread-safe; open with `Outbox.open`."""

    def __init__(
        self,
        directory: Path,
        *,
        key: bytes,
        max_bytes: int,
        max_age: timedelta | None,
        when_full: WhenFull,
        clock: Callable[[], float],
    ) -> None:
        if max_bytes <= 0:
            raise OutboxError(f"outbox max_bytes must be positive, got {max_bytes}")
        if when_full not in ("evict_oldest", "reject_newest"):
            raise OutboxError(
                f"outbox when_full must be 'evict_oldest' or 'reject_newest', got {when_full!r}"
            )
        self.directory = directory
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.when_full: WhenFull = when_full
        self._cipher = BlobCipher(key)
        self._clock = clock
        self._blobs = directory / "blobs"
        self._tmp = directory / "tmp"
        self._db_path = directory / _DB_NAME
        self._lock = threading.RLock()
        self._evicted_unlogged = 0
        self._evict_logged_at = float("-inf")
        self._closed = False
        self._dir_lock: DirectoryLock | None = None
        self._db: sqlite3.Connection | None = None
        # SUM(blob_bytes) walks every row's overflow pages (50 ms at 7000 queued captures, on
        # every put once the agent has been offline for a day), so it is cached with the state
        # it was read in: (PRAGMA data_version, total_changes) moves on any other connection's
        # commit and on any row this one changes. put and eviction carry it forward by their
        # own known deltas; anything else makes the next reader sum again.
        self._queued_cache: tuple[tuple[int, int], int] | None = None

    # ----------------------------------------------------------------- opening and recovery

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        key: bytes,
        max_bytes: int = DEFAULT_MAX_BYTES,
        max_age: timedelta | None = None,
        when_full: WhenFull = "evict_oldest",
        clock: Callable[[], float] = time.time,
    ) -> Self:
        """Open (creating if needed) the outbox in `directory`, recovering from any crash."""
        outbox = cls(
            Path(directory),
            key=key,
            max_bytes=max_bytes,
            max_age=max_age,
            when_full=when_full,
            clock=clock,
        )
        outbox._start()
        return outbox

    def _start(self) -> None:
        try:
            for path in (self.directory, self._blobs, self._tmp):
                path.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise OutboxError(
                f"cannot create the outbox directory {self.directory}: {exc.strerror}; "
                "check that the disk is mounted and writable"
            ) from exc
        try:
            self._dir_lock = DirectoryLock(self.directory / "outbox.lock")
        except OSError as exc:
            raise OutboxError(
                f"cannot open the outbox lock file in {self.directory}: {exc.strerror}; "
                "check that the directory is writable"
            ) from exc
        self._db = self._connect()
        if self._dir_lock.owned:
            self._recover()
            self._ensure_reserve()

    def _connect(self) -> sqlite3.Connection:
        try:
            db = open_database(self._db_path)
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                # Permissions, a full disk, a lock held too long: not damage, so keep the file.
                full = "full" in str(exc)
                raise (OutboxFullError if full else OutboxError)(
                    f"cannot open the outbox database {self._db_path} ({exc}); "
                    + (
                        "free disk space and start again"
                        if full
                        else "check the directory's permissions and that the disk is writable"
                    )
                ) from exc
            if not (self._dir_lock and self._dir_lock.owned):
                raise OutboxError(
                    f"the outbox database {self._db_path} cannot be read ({exc}); "
                    "restart the agent so it can repair it"
                ) from exc
            # Never crash-loop on a damaged database: set it aside and start afresh; the
            # blobs it described become orphans, which recovery counts as quarantined.
            aside = self._db_path.with_name(f"{_DB_NAME}.damaged-{int(self._clock())}")
            log.error(
                "The outbox database %s is damaged (%s); moved it to %s and started a new one. "
                "Captures it listed cannot be sent and are counted as quarantined.",
                self._db_path,
                exc,
                aside,
            )
            for suffix in ("", "-wal", "-shm"):
                source = Path(f"{self._db_path}{suffix}")
                if source.exists():
                    os.replace(source, Path(f"{aside}{suffix}"))
            self._orphans_are_quarantined = True
            db = open_database(self._db_path)
        return db

    _orphans_are_quarantined = False

    def _recover(self) -> None:
        """Bring the directory back to a consistent state; logs and counts, never raises."""
        steps: tuple[tuple[str, Callable[[], None]], ...] = (
            ("sweep temp files", self._sweep_temp),
            ("check the outbox key", self._check_key),
            ("requeue in-flight captures", self._requeue_in_flight),
            ("check blobs", self._check_blobs),
            ("remove orphan blobs", self._remove_orphans),
        )
        for name, step in steps:
            try:
                step()
            except Exception:
                log.exception("Outbox recovery could not %s; continuing without it", name)

    def _sweep_temp(self) -> None:
        for path in self._tmp.iterdir():
            with contextlib.suppress(OSError):
                path.unlink()

    def _check_key(self) -> None:
        with self._lock:
            row = self._conn.execute("SELECT value FROM settings WHERE name='key_check'").fetchone()
            if row is not None:
                try:
                    self._cipher.open(b"key-check", row[0])
                    return
                except OutboxKeyError:
                    pass
                count = self._conn.execute("SELECT COUNT(*) FROM captures").fetchone()[0]
                log.error(
                    "The outbox key in the keyring is not the key these captures were sealed "
                    "with (the keyring entry was deleted or replaced). %d queued captures cannot "
                    "be read and were quarantined; new captures use the current key.",
                    count,
                )
                ids = [r[0] for r in self._conn.execute("SELECT id FROM captures")]
                with self._transaction():
                    self._conn.execute("DELETE FROM captures")
                    self._conn.execute("DELETE FROM sent")
                    self._bump("quarantined_total", len(ids))
                for capture_id in ids:
                    self._unlink_blob(capture_id)
            with self._transaction():
                self._conn.execute(
                    "INSERT OR REPLACE INTO settings (name, value) VALUES ('key_check', ?)",
                    (self._cipher.seal(b"key-check", _KEY_CHECK),),
                )

    def _requeue_in_flight(self) -> None:
        with self._lock, self._transaction():
            cursor = self._conn.execute(
                "UPDATE captures SET state='pending' WHERE state='in_flight'"
            )
        if cursor.rowcount:
            log.info("Outbox: %d captures interrupted mid-send are queued again", cursor.rowcount)

    def _check_blobs(self) -> None:
        """Sizes of all blobs; contents (tag and sha256) of the oldest, up to a read budget.

        Whatever is not read here is checked just before it is sent (see `read`), so a damaged
        blob is never uploaded either way; the budget only bounds the start-up time.
        """
        with self._lock:
            rows = self._conn.execute("SELECT id, blob_bytes FROM captures ORDER BY seq").fetchall()
        budget = _VERIFY_AT_START_BYTES
        for capture_id, expected in rows:
            size = file_size(self._blob_path(capture_id))
            if size != expected:
                reason = "its sealed file is missing" if size == 0 else "its sealed file is damaged"
                self.quarantine(UUID(capture_id), reason)
                continue
            if budget < size:
                continue
            budget -= size
            try:
                self.read(UUID(capture_id))
            except OutboxKeyError as exc:
                self.quarantine(UUID(capture_id), f"its sealed file fails its check ({exc})")
            except (OutboxError, ValidationError):
                self.quarantine(UUID(capture_id), "its sealed file or metadata cannot be read")

    def _remove_orphans(self) -> None:
        with self._lock:
            known = {r[0] for r in self._conn.execute("SELECT id FROM captures")}
        removed = 0
        for path in self._blobs.iterdir():
            if path.suffix == ".blob" and path.stem in known:
                continue
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
        if removed and self._orphans_are_quarantined:
            with self._lock, self._transaction():
                self._bump("quarantined_total", removed)
        if removed:
            fsync_directory(self._blobs)
            log.info("Outbox: removed %d files no row refers to", removed)

    # ----------------------------------------------------------------- plumbing

    @property
    def _conn(self) -> sqlite3.Connection:
        if self._db is None or self._closed:
            raise OutboxError("the outbox is closed")
        return self._db

    @contextlib.contextmanager
    def _transaction(self, *, durable: bool = False) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT; SQLite errors become OutboxError (OutboxFullError: disk).

        `durable` commits with synchronous=FULL: the WAL is fsynced before COMMIT returns (and
        with it every earlier, unsynced transaction).
        """
        conn = self._conn
        try:
            if durable:
                conn.execute("PRAGMA synchronous=FULL")
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.OperationalError as exc:
            if "full" in str(exc):
                raise OutboxFullError(
                    f"the disk holding the outbox ({self.directory}) is full; free disk space "
                    "(the agent carries on by itself once there is room)"
                ) from exc
            raise OutboxError(f"the outbox database failed: {exc}") from exc
        except sqlite3.Error as exc:
            raise OutboxError(f"the outbox database failed: {exc}") from exc
        finally:
            if durable:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA synchronous=NORMAL")

    def _bump(self, name: str, by: int = 1) -> None:
        self._conn.execute(
            "INSERT INTO counters (name, value) VALUES (?, ?) "
            "ON CONFLICT(name) DO UPDATE SET value = value + excluded.value",
            (name, by),
        )

    def _counter(self, name: str) -> int:
        row = self._conn.execute("SELECT value FROM counters WHERE name=?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def _blob_path(self, capture_id: str) -> Path:
        return self._blobs / f"{capture_id}.blob"

    def _unlink_blob(self, capture_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._blob_path(capture_id).unlink()

    def _meta(self, capture_id: str, sealed: bytes) -> CaptureMetadata:
        raw = self._cipher.open(_aad("meta", capture_id), sealed)
        return CaptureMetadata.model_validate_json(raw)

    def _thumb(self, capture_id: str, sealed: bytes | None) -> bytes | None:
        if sealed is None:
            return None
        try:
            return self._cipher.open(_aad("thumb", capture_id), sealed)
        except OutboxKeyError:
            return None

    def _disk_bytes(self) -> int:
        db = sum(file_size(Path(f"{self._db_path}{s}")) for s in ("", "-wal", "-shm"))
        temp = sum(file_size(p) for p in self._tmp.iterdir())
        return db + temp + file_size(self.directory / "reserve")

    def _change_key(self) -> tuple[int, int]:
        version = self._conn.execute("PRAGMA data_version").fetchone()[0]
        return int(version), self._conn.total_changes

    def _cached_queued_bytes(self) -> tuple[tuple[int, int], int] | None:
        """(current change key, cached total) while the cache is still valid, else None."""
        key = self._change_key()
        cached = self._queued_cache
        return (key, cached[1]) if cached is not None and cached[0] == key else None

    def _queued_bytes(self) -> int:
        valid = self._cached_queued_bytes()
        if valid is not None:
            return valid[1]
        key = self._change_key()  # read first: a commit after it only makes the next call re-sum
        row = self._conn.execute("SELECT COALESCE(SUM(blob_bytes), 0) FROM captures").fetchone()
        self._queued_cache = (key, int(row[0]))
        return self._queued_cache[1]

    def _begin_queued_change(self) -> tuple[tuple[int, int], int] | None:
        """Call inside a write transaction that changes SUM(blob_bytes): the valid cache, if any.

        The cache is dropped until `_end_queued_change` runs after the commit, so a failed
        commit or rollback never leaves a total that did not happen.
        """
        valid = self._cached_queued_bytes()
        self._queued_cache = None
        return valid

    def _end_queued_change(
        self, before: tuple[tuple[int, int], int] | None, changes: int, delta: int
    ) -> None:
        """After the commit: carry the cache forward. `changes` is total_changes before COMMIT.

        The write lock was held from `_begin_queued_change` to the commit, so no other connection
        committed in between, and our own commit leaves our data_version as it was.
        """
        if before is not None:
            self._queued_cache = ((before[0][0], changes), before[1] + delta)

    # ----------------------------------------------------------------- accepting captures

    def put(
        self, metadata: CaptureMetadata, data: bytes, *, thumbnail: bytes | None = None
    ) -> None:
        """Accept a capture: durable when this returns.

        Raises OutboxFullError when the cap or the disk is full and nothing could be evicted
        (or when_full is "reject_newest"), OutboxError for anything else; the message says
        what to do. A failed put leaves no file behind.
        """
        if metadata.byte_size != len(data):
            raise OutboxError(
                f"capture {metadata.id}: metadata says {metadata.byte_size} bytes but the image "
                f"has {len(data)}; rebuild the metadata from the encoded image"
            )
        if isinstance(data, DigestedBytes):
            digest = data.sha256
        else:
            digest = hashlib.sha256(data).hexdigest()
        if digest != metadata.sha256:
            raise OutboxError(
                f"capture {metadata.id}: metadata sha256 does not match the image bytes; "
                "rebuild the metadata from the encoded image"
            )
        capture_id = str(metadata.id)
        sealed = self._cipher.seal(_aad("blob", capture_id), data)
        meta = self._cipher.seal(_aad("meta", capture_id), metadata.model_dump_json().encode())
        thumb = self._cipher.seal(_aad("thumb", capture_id), thumbnail) if thumbnail else None
        need = len(sealed) + len(meta) + (len(thumb) if thumb else 0) + _ROW_OVERHEAD
        with self._lock:
            exists = self._conn.execute(
                "SELECT 1 FROM captures WHERE id=? UNION ALL SELECT 1 FROM sent WHERE id=?",
                (capture_id, capture_id),
            ).fetchone()
            if exists:
                raise OutboxError(f"capture {capture_id} is already in the outbox; ids must be new")
            self._expire_old()
            self._make_room(need)
            self._write_blob(capture_id, sealed)
            try:
                self._insert(metadata, capture_id, meta, thumb, len(sealed))
            except BaseException:
                self._unlink_blob(capture_id)
                raise

    def _write_blob(self, capture_id: str, sealed: bytes) -> None:
        for _ in range(1000):
            try:
                write_durably(self._blob_path(capture_id), sealed, temp_dir=self._tmp)
                return
            except OSError as exc:
                if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise OutboxError(
                        f"cannot write the capture to {self._blobs}: {exc.strerror}; "
                        "check the disk and the directory's permissions"
                    ) from exc
                if not self._evict_for_disk():
                    raise OutboxFullError(
                        f"the disk holding the outbox ({self.directory}) is full and there is "
                        "nothing left to evict; free disk space (captures resume on their own)"
                    ) from exc
        raise OutboxFullError("the disk holding the outbox is full; free disk space")

    def _insert(
        self,
        metadata: CaptureMetadata,
        capture_id: str,
        meta: bytes,
        thumb: bytes | None,
        blob_bytes: int,
    ) -> None:
        for _ in range(1000):
            try:
                with self._transaction(durable=True):
                    before = self._begin_queued_change()
                    self._conn.execute(
                        "INSERT INTO captures (id, state, meta, thumb, captured_at, enqueued_at,"
                        " blob_bytes) VALUES (?, 'pending', ?, ?, ?, ?, ?)",
                        (
                            capture_id,
                            meta,
                            thumb,
                            metadata.captured_at.timestamp(),
                            self._clock(),
                            blob_bytes,
                        ),
                    )
                    changes = self._conn.total_changes
                self._end_queued_change(before, changes, blob_bytes)
                return
            except OutboxFullError:
                if not self._evict_for_disk():
                    raise
        raise OutboxFullError("the disk holding the outbox is full; free disk space")

    def _evictable(self, limit: int) -> list[tuple[str, int]]:
        return [
            (r[0], int(r[1]))
            for r in self._conn.execute(
                "SELECT id, blob_bytes FROM captures WHERE state='pending' ORDER BY seq LIMIT ?",
                (limit,),
            )
        ]

    def _evict(self, victims: list[tuple[str, int]], why: str) -> None:
        if not victims:
            return
        # Blobs go first: on a full disk even the DELETE needs room in the WAL. Should the row
        # update then fail, recovery finds rows without blobs and quarantines them.
        for capture_id, _ in victims:
            self._unlink_blob(capture_id)
        with self._transaction():
            before = self._begin_queued_change()
            cursor = self._conn.executemany(
                "DELETE FROM captures WHERE id=?", [(v[0],) for v in victims]
            )
            # A victim already gone (purged by another process) makes the delta unknown.
            known = cursor.rowcount == len(victims)
            self._bump("evicted_total", len(victims))
            changes = self._conn.total_changes
        self._end_queued_change(before if known else None, changes, -sum(v[1] for v in victims))
        # A full outbox evicts on every capture; log the first and then a sum per interval.
        self._evicted_unlogged += len(victims)
        now = self._clock()
        if now - self._evict_logged_at >= _EVICTION_LOG_INTERVAL:
            log.warning(
                "Outbox: evicted %d oldest unsent captures %s (%d evicted in all)",
                self._evicted_unlogged,
                why,
                self._counter("evicted_total"),
            )
            self._evicted_unlogged = 0
            self._evict_logged_at = now

    def _evict_for_disk(self) -> bool:
        if self.when_full != "evict_oldest":
            return False
        victims = self._evictable(1)
        self._evict(victims, "because the disk is full; free disk space to keep them")
        return bool(victims)

    def _make_room(self, need: int) -> None:
        total = self._queued_bytes() + self._disk_bytes()
        if total + need <= self.max_bytes:
            return
        if self.when_full == "reject_newest":
            raise OutboxFullError(
                f"the outbox is full ({format_size(total)} of {format_size(self.max_bytes)}); "
                "the capture was not kept. Bring the server back or raise the outbox size limit"
            )
        victims: list[tuple[str, int]] = []
        freed = 0
        for victim in self._evictable(100_000):
            if total + need - freed <= self.max_bytes:
                break
            victims.append(victim)
            freed += victim[1] + _ROW_OVERHEAD
        if total + need - freed > self.max_bytes:
            raise OutboxFullError(
                f"the outbox size limit ({format_size(self.max_bytes)}) is too small for this "
                f"capture even after evicting every unsent one; raise the limit"
            )
        self._evict(victims, "to stay under the outbox size limit; raise it to keep more")

    def _expire_old(self) -> None:
        if self.max_age is None:
            return
        cutoff = self._clock() - self.max_age.total_seconds()
        victims = [
            (r[0], int(r[1]))
            for r in self._conn.execute(
                "SELECT id, blob_bytes FROM captures WHERE state='pending' AND captured_at < ?",
                (cutoff,),
            )
        ]
        self._evict(victims, f"older than the outbox age limit ({self.max_age})")

    def enforce_limits(self) -> None:
        """Apply the age cap and remake the disk reserve (the sync worker calls this when idle)."""
        with self._lock:
            self._expire_old()
            self._ensure_reserve()

    def _ensure_reserve(self) -> None:
        reserve = self.directory / "reserve"
        if reserve.exists():
            return
        try:
            size = min(_RESERVE_BYTES, self.max_bytes // 16)  # counted against the cap
            if shutil.disk_usage(self.directory).free < 2 * size:
                return  # not while the disk is nearly full: that space is the user's
            write_durably(reserve, bytes(size), temp_dir=self._tmp)
        except OSError:
            return

    def _release_reserve(self) -> bool:
        try:
            (self.directory / "reserve").unlink()
        except OSError:
            return False
        log.warning(
            "The disk holding the outbox (%s) is full: released the outbox's reserve so queued "
            "captures can still be sent. Free disk space.",
            self.directory,
        )
        return True

    # ----------------------------------------------------------------- the sync worker's side

    @_may_use_reserve
    def claim(self, limit: int) -> list[OutboxEntry]:
        """Mark up to `limit` due pending captures in flight and return them.

        Never-tried captures come first, oldest first; retried ones follow in the order they
        fell due, so one capture the server keeps failing cannot hold up the queue.
        """
        now = self._clock()
        with self._lock, self._transaction():
            rows = self._conn.execute(
                "SELECT seq, id, meta, attempts, next_attempt_at, last_error, blob_bytes,"
                " enqueued_at FROM captures WHERE state='pending' AND next_attempt_at <= ?"
                " ORDER BY next_attempt_at, seq LIMIT ?",
                (now, limit),
            ).fetchall()
            self._conn.executemany(
                "UPDATE captures SET state='in_flight' WHERE seq=?", [(r[0],) for r in rows]
            )
        entries = []
        for _, cid, meta, attempts, next_at, error, blob_bytes, enqueued in rows:
            try:
                metadata = self._meta(cid, meta)
            except (OutboxKeyError, ValidationError):
                self.quarantine(UUID(cid), "its metadata does not open with the outbox key")
                continue
            entries.append(
                OutboxEntry(
                    id=UUID(cid),
                    metadata=metadata,
                    state="in_flight",
                    attempts=attempts,
                    next_attempt_at=_utc(next_at) if next_at else None,
                    last_error=error,
                    blob_bytes=blob_bytes,
                    enqueued_at=_utc(enqueued),
                )
            )
        return entries

    def read(self, capture_id: UUID) -> bytes:
        """The decrypted image bytes of a queued capture, checked against its sha256."""
        cid = str(capture_id)
        with self._lock:
            row = self._conn.execute("SELECT meta FROM captures WHERE id=?", (cid,)).fetchone()
        if row is None:
            raise OutboxError(f"capture {cid} is not in the outbox")
        try:
            sealed = self._blob_path(cid).read_bytes()
        except OSError as exc:
            raise OutboxError(f"capture {cid}: its sealed file cannot be read ({exc})") from exc
        data = self._cipher.open(_aad("blob", cid), sealed)
        if hashlib.sha256(data).hexdigest() != self._meta(cid, row[0]).sha256:
            raise OutboxKeyError(f"capture {cid}: the image does not match its sha256")
        return data

    @_may_use_reserve
    def ack(self, capture_id: UUID) -> None:
        """The server has the capture: remove it, keep its metadata and thumbnail as history."""
        cid = str(capture_id)
        with self._lock:
            with self._transaction():
                row = self._conn.execute(
                    "SELECT meta, thumb FROM captures WHERE id=?", (cid,)
                ).fetchone()
                if row is None:
                    return  # purged while in flight
                self._conn.execute("DELETE FROM captures WHERE id=?", (cid,))
                self._conn.execute(
                    "INSERT OR REPLACE INTO sent (id, meta, thumb, sent_at) VALUES (?, ?, ?, ?)",
                    (cid, row[0], row[1], self._clock()),
                )
                self._conn.execute(
                    "DELETE FROM sent WHERE seq <= (SELECT MAX(seq) FROM sent) - ?",
                    (SENT_HISTORY,),
                )
                self._bump("sent_total")
            self._unlink_blob(cid)

    @_may_use_reserve
    def retry_later(self, capture_id: UUID, error: str, delay: float) -> None:
        """The send failed in a way worth retrying: back to pending after `delay` seconds."""
        with self._lock, self._transaction():
            self._conn.execute(
                "UPDATE captures SET state='pending', attempts=attempts+1, next_attempt_at=?,"
                " last_error=? WHERE id=?",
                (self._clock() + delay, error, str(capture_id)),
            )

    @_may_use_reserve
    def release(self, capture_id: UUID) -> None:
        """Return an in-flight capture to pending without counting an attempt."""
        with self._lock, self._transaction():
            self._conn.execute(
                "UPDATE captures SET state='pending' WHERE id=? AND state='in_flight'",
                (str(capture_id),),
            )

    @_may_use_reserve
    def bury(self, capture_id: UUID, error: str) -> None:
        """The server refused the capture for good: keep it as a dead letter with the reason."""
        with self._lock, self._transaction():
            cursor = self._conn.execute(
                "UPDATE captures SET state='dead', attempts=attempts+1, last_error=? WHERE id=?",
                (error, str(capture_id)),
            )
            if cursor.rowcount:
                self._bump("dead_total")
        log.debug("Outbox: capture %s is a dead letter: %s", capture_id, error)

    @_may_use_reserve
    def quarantine(self, capture_id: UUID, reason: str) -> None:
        """Drop a capture that can never be sent (blob lost, damaged or sealed with a lost key)."""
        cid = str(capture_id)
        with self._lock:
            with self._transaction():
                cursor = self._conn.execute("DELETE FROM captures WHERE id=?", (cid,))
                if cursor.rowcount:
                    self._bump("quarantined_total")
            self._unlink_blob(cid)
        if cursor.rowcount:
            log.error("Outbox: capture %s quarantined and dropped: %s", cid, reason)

    def next_due(self) -> float | None:
        """Clock time when the next pending capture becomes due, or None if nothing is pending."""
        with self._lock:
            row = self._conn.execute(
                "SELECT MIN(next_attempt_at) FROM captures WHERE state='pending'"
            ).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    @_may_use_reserve
    def reschedule_all(self) -> int:
        """Make every pending capture due now ("sync now"); returns how many."""
        with self._lock, self._transaction():
            cursor = self._conn.execute(
                "UPDATE captures SET next_attempt_at=0 WHERE state='pending' AND next_attempt_at>0"
            )
        return cursor.rowcount

    # ----------------------------------------------------------------- inspection and upkeep

    def stats(self) -> OutboxStats:
        """Counts, sizes and lifetime counters."""
        with self._lock:
            counts = dict(
                self._conn.execute("SELECT state, COUNT(*) FROM captures GROUP BY state").fetchall()
            )
            queued_bytes = self._queued_bytes()
            oldest = self._conn.execute("SELECT MIN(captured_at) FROM captures").fetchone()[0]
            return OutboxStats(
                pending=counts.get("pending", 0),
                in_flight=counts.get("in_flight", 0),
                dead=counts.get("dead", 0),
                queued_bytes=queued_bytes,
                total_bytes=queued_bytes + self._disk_bytes(),
                max_bytes=self.max_bytes,
                evicted_total=self._counter("evicted_total"),
                quarantined_total=self._counter("quarantined_total"),
                sent_total=self._counter("sent_total"),
                dead_total=self._counter("dead_total"),
                oldest_captured_at=_utc(oldest) if oldest is not None else None,
            )

    def entries(self, state: EntryState | None = None, limit: int = 100) -> list[OutboxEntry]:
        """Queued captures, oldest first, optionally of one state."""
        query = (
            "SELECT id, meta, state, attempts, next_attempt_at, last_error, blob_bytes,"
            " enqueued_at FROM captures"
        )
        params: tuple[object, ...] = ()
        if state is not None:
            query += " WHERE state=?"
            params = (state,)
        with self._lock:
            rows = self._conn.execute(query + " ORDER BY seq LIMIT ?", (*params, limit)).fetchall()
        result = []
        for cid, meta, st, attempts, next_at, error, blob_bytes, enqueued in rows:
            try:
                metadata = self._meta(cid, meta)
            except (OutboxKeyError, ValidationError):
                continue
            result.append(
                OutboxEntry(
                    id=UUID(cid),
                    metadata=metadata,
                    state=st,
                    attempts=attempts,
                    next_attempt_at=_utc(next_at) if next_at else None,
                    last_error=error,
                    blob_bytes=blob_bytes,
                    enqueued_at=_utc(enqueued),
                )
            )
        return result

    def recent(self, limit: int = 50) -> list[RecentCapture]:
        """The newest captures, queued, dead or sent, newest first, thumbnails decrypted."""
        with self._lock:
            queued = self._conn.execute(
                "SELECT id, meta, thumb, state, last_error, enqueued_at FROM captures"
                " ORDER BY seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
            sent = self._conn.execute(
                "SELECT id, meta, thumb, 'sent', NULL, sent_at FROM sent ORDER BY seq DESC LIMIT ?",
                (limit,),
            ).fetchall()
        items: list[RecentCapture] = []
        for cid, meta, thumb, state, error, at in queued + sent:
            try:
                metadata = self._meta(cid, meta)
            except (OutboxKeyError, ValidationError):
                continue
            shown: RecentState = (
                "dead" if state == "dead" else "sent" if state == "sent" else "queued"
            )
            items.append(
                RecentCapture(
                    metadata=metadata,
                    state=shown,
                    last_error=error,
                    thumbnail=self._thumb(cid, thumb),
                    at=_utc(at),
                )
            )
        items.sort(key=lambda item: (item.metadata.captured_at, item.at), reverse=True)
        return items[:limit]

    @_may_use_reserve
    def retry_dead(self) -> int:
        """Queue every dead letter again; returns how many."""
        with self._lock, self._transaction():
            cursor = self._conn.execute(
                "UPDATE captures SET state='pending', attempts=0, next_attempt_at=0"
                " WHERE state='dead'"
            )
        return cursor.rowcount

    def purge(self, *, dead_only: bool = False, history: bool = False) -> int:
        """Delete queued captures (all unsent ones, or only dead letters) without sending them.

        Captures being sent right now are left alone. `history` also forgets the list of sent
        captures. Returns how many queued captures were deleted.
        """
        states = ("dead",) if dead_only else ("pending", "dead")
        marks = ",".join("?" * len(states))
        with self._lock:
            with self._transaction():
                ids = [
                    r[0]
                    for r in self._conn.execute(
                        f"SELECT id FROM captures WHERE state IN ({marks})",  # noqa: S608 - fixed marks
                        states,
                    )
                ]
                self._conn.executemany("DELETE FROM captures WHERE id=?", [(i,) for i in ids])
                if history:
                    self._conn.execute("DELETE FROM sent")
            for capture_id in ids:
                self._unlink_blob(capture_id)
        if ids:
            log.info("Outbox: purged %d captures at the user's request", len(ids))
        return len(ids)

    def close(self) -> None:
        """Close the database and release the directory."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._db is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                self._db.close()
            if self._dir_lock is not None:
                self._dir_lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
