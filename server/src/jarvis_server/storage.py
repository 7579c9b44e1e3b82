"""Where image files live: a small protocol and its filesystem implementation.

A file is written to a temporary name, fsynced, then linked into its date-partitioned place
({YYYY}/{MM}/{DD}/{id}.{ext}) and the directory fsynced, so a stored file is whole and durable
before its row commits. Linking (not renaming) never replaces an existing file, so two uploads
racing for one name cannot destroy each other's data.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Final, Protocol

import aiofiles
import aiofiles.os
import anyio.to_thread

from jarvis_server.errors import JarvisServerError
from jarvis_server.filemodes import is_loose, make_private_dir, open_private

URL_VAR: Final = "JARVIS_STORAGE_URL"  # chooses the storage: file:///PATH or s3://BUCKET/PREFIX
TEMP_DIR: Final = ".tmp"
# Files no row lists, moved aside at start (never deleted) until `storage purge-quarantine`.
QUARANTINE_DIR: Final = ".quarantine"
_SPECIAL: Final = frozenset({TEMP_DIR, QUARANTINE_DIR})
# Not ours: a storage directory at the root of an ext4 volume holds the filesystem's own folder.
_NOT_OURS: Final = frozenset({"lost+found"})
_FLUSH_BYTES: Final = 1024 * 1024  # bounded memory per upload; fewer thread hops than per chunk
_READ_CHUNK: Final = 256 * 1024


@dataclass(frozen=True, slots=True)
class StorageScan:
    """What a storage directory holds: image files by key with their mtime, quarantined keys,
    and folders or files whose mode is not private."""

    exists: bool
    files: dict[str, float]
    quarantined: frozenset[str]
    loose: tuple[Path, ...]


def _note_loose(path: Path, loose: list[Path]) -> None:
    try:
        if is_loose(path.lstat().st_mode):
            loose.append(path)
    except FileNotFoundError:
        pass


def _walk(
    folder: str,
    prefix: str,
    files: dict[str, float],
    loose: list[Path],
    *,
    skip: frozenset[str],
) -> None:
    """Collect regular files under `folder` as key -> mtime, and entries with loose modes.

    os.scandir with string keys: one lstat per file (for its mtime and mode) and no pathlib
    objects, so a start over a million captures costs little more than listing them.
    An unreadable folder raises: it must not look like an empty one."""
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name in skip:
                continue
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            if is_loose(info.st_mode):
                loose.append(Path(entry.path))
            if entry.is_dir(follow_symlinks=False):
                _walk(entry.path, f"{prefix}{entry.name}/", files, loose, skip=frozenset())
            elif entry.is_file(follow_symlinks=False):
                files[prefix + entry.name] = info.st_mtime


class StorageError(JarvisServerError):
    """The storage cannot be used; `setting` names the variable to check."""

    def __init__(self, message: str, *, setting: str = "JARVIS_STORAGE_DIR") -> None:
        super().__init__(message)
        self.setting = setting


class StorageUnavailable(StorageError):
    """The storage does not answer now (a network store down); worth retrying later."""


class RejectedFile(JarvisServerError):
    """The upload's bytes failed the caller's check; nothing was stored."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


# A check of the received bytes: returns what is wrong, or raises RejectedFile (or a subclass
# carrying more detail); either way nothing is kept.
Verify = Callable[[bytes | Path], str | None]


class PendingFile:
    """An upload being received, hashed and counted as it arrives.

    Bytes are buffered in memory up to _FLUSH_BYTES; only a larger upload goes to its temporary
    file while it streams (one worker-thread hop per megabyte). A typical capture never touches
    the disk before `FilesystemStorage.place`, which checks, writes, syncs and links it in ONE
    worker-thread hop: each hop costs about as much CPU as hashing the whole image.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = 0
        self._sha = hashlib.sha256()
        self._buffer = bytearray()
        self._file: BinaryIO | None = None
        self._created = False  # the temporary file exists
        self.placed = False  # moved into storage: nothing temporary is left to discard

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def _create(self) -> BinaryIO:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        try:
            fd = open_private(self.path, flags)
        except FileNotFoundError:  # the temp area was removed under a running server
            make_private_dir(self.path.parent)
            fd = open_private(self.path, flags)
        self._created = True
        return os.fdopen(fd, "wb")

    async def write(self, data: bytes) -> None:
        self.size += len(data)
        self._sha.update(data)
        self._buffer += data
        if len(self._buffer) >= _FLUSH_BYTES:
            chunk = bytes(self._buffer)
            self._buffer.clear()
            await anyio.to_thread.run_sync(self._spill_sync, chunk)

    def _spill_sync(self, chunk: bytes) -> None:
        if self._file is None:
            self._file = self._create()
        self._file.write(chunk)

    def _complete_sync(self) -> bytes | None:
        """Write out what is buffered; the whole content when it never left memory."""
        if self._file is None:
            whole = bytes(self._buffer)
            self._buffer.clear()
            return whole
        self._file.write(self._buffer)
        self._buffer.clear()
        self._file.flush()
        return None

    def _sync_to_disk(self, whole: bytes | None) -> None:
        if whole is not None:
            self._file = self._create()
            self._file.write(whole)
            self._file.flush()
        assert self._file is not None
        os.fsync(self._file.fileno())
        self._file.close()
        self._file = None

    async def discard(self) -> None:
        self._buffer.clear()
        if not self.placed and self._created:
            await anyio.to_thread.run_sync(self._discard_sync)

    def _discard_sync(self) -> None:
        self._buffer.clear()
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None
        if self._created:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            self._created = False


class Storage(Protocol):
    """What the API needs from a place to keep image files."""

    @property
    def location(self) -> str:
        """Where the files are, for messages (a directory, or s3://bucket/prefix at endpoint)."""
        ...

    @property
    def quarantine_location(self) -> str: ...

    def close(self) -> None: ...

    def begin(self) -> PendingFile: ...

    async def place(
        self,
        pending: PendingFile,
        capture_id: str,
        ext: str,
        when: datetime,
        verify: Verify | None = None,
    ) -> str:
        """Check a received upload (RejectedFile) and make it durable in its final place;
        returns the storage key."""
        ...

    def read(self, key: str) -> AsyncIterator[bytes]: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None: ...

    async def keys(self) -> set[str]: ...

    async def scan(self) -> StorageScan: ...

    async def quarantine(self, key: str) -> None: ...

    async def restore(self, key: str) -> None: ...

    async def purge_quarantine(self) -> int: ...

    async def purge_temp(self) -> int: ...

    async def probe(self) -> None: ...


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _makedirs_durable(path: Path) -> None:
    """Create path (0700) and fsync every parent whose entry changed."""
    if path.is_dir():
        return
    for created in make_private_dir(path):
        _fsync_dir(created.parent)


class FilesystemStorage:
    """Files under one directory, date-partitioned, with a temp area for uploads in flight."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.temp = root / TEMP_DIR
        self.quarantine_dir = root / QUARANTINE_DIR

    @property
    def location(self) -> str:
        return str(self.root)

    @property
    def quarantine_location(self) -> str:
        return str(self.quarantine_dir)

    def close(self) -> None:
        """Nothing to release: files are opened per request."""

    def _prepare(self) -> None:
        make_private_dir(self.temp)

    async def probe(self) -> None:
        """Check that files can be created, synced and removed; StorageError says why not."""
        try:
            await anyio.to_thread.run_sync(self._probe_sync)
        except OSError as exc:
            raise StorageError(f"cannot write to {self.root} ({exc.strerror or exc})") from exc

    def _probe_sync(self) -> None:
        self._prepare()
        probe = self.temp / f"probe-{secrets.token_hex(4)}"
        with probe.open("xb") as f:
            f.write(b"ok")
            f.flush()
            os.fsync(f.fileno())
        probe.unlink()

    def begin(self) -> PendingFile:
        return PendingFile(self.temp / f"{secrets.token_hex(16)}.part")

    async def place(
        self,
        pending: PendingFile,
        capture_id: str,
        ext: str,
        when: datetime,
        verify: Verify | None = None,
    ) -> str:
        day = when.astimezone(UTC).strftime("%Y/%m/%d")
        key: str = await anyio.to_thread.run_sync(
            self._place_sync, pending, day, capture_id, ext, verify
        )
        return key

    def _place_sync(
        self, pending: PendingFile, day: str, capture_id: str, ext: str, verify: Verify | None
    ) -> str:
        # Checked before anything is synced: a refused upload costs no fsync.
        whole = pending._complete_sync()
        if verify is not None:
            try:
                problem = verify(whole if whole is not None else pending.path)
                if problem is not None:
                    raise RejectedFile(problem)
            except BaseException:
                pending._discard_sync()
                raise
        pending._sync_to_disk(whole)
        tmp = pending.path
        folder = self.root / day
        _makedirs_durable(folder)
        key = f"{day}/{capture_id}.{ext}"
        while True:
            try:
                os.link(tmp, self.root / key)
                break
            except FileExistsError:
                # Same id stored by another device or a racing replay: keep both, never replace.
                key = f"{day}/{capture_id}.{secrets.token_hex(4)}.{ext}"
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV):
                    raise
                # No hard links here (some network filesystems): rename, checking first.
                if (self.root / key).exists():
                    key = f"{day}/{capture_id}.{secrets.token_hex(4)}.{ext}"
                    continue
                os.rename(tmp, self.root / key)
                break
        _fsync_dir(folder)
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        pending.placed = True
        return key

    def path(self, key: str) -> Path:
        resolved = (self.root / key).resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise ValueError("storage key escapes the storage directory")
        return resolved

    async def read(self, key: str) -> AsyncIterator[bytes]:
        async with aiofiles.open(self.path(key), "rb") as f:
            while chunk := await f.read(_READ_CHUNK):
                yield chunk

    async def exists(self, key: str) -> bool:
        found: bool = await aiofiles.os.path.isfile(self.path(key))
        return found

    async def delete(self, key: str) -> None:
        """Remove the file, and a quarantined copy: a reconciliation running while the capture
        is deleted may have listed the file after its row was gone and moved it aside."""
        for path in (self.path(key), self._quarantined(key)):
            with contextlib.suppress(FileNotFoundError):
                await aiofiles.os.remove(path)

    async def keys(self) -> set[str]:
        return set((await self.scan()).files)

    async def scan(self) -> StorageScan:
        """What the directory holds, read without changing anything. A folder that cannot be
        read raises StorageError: its files must not be taken for missing ones."""
        try:
            return await anyio.to_thread.run_sync(self._scan_sync)
        except OSError as exc:
            where = exc.filename or self.root
            raise StorageError(f"cannot read {where} ({exc.strerror or exc})") from exc

    def _scan_sync(self) -> StorageScan:
        if not self.root.is_dir():
            return StorageScan(exists=False, files={}, quarantined=frozenset(), loose=())
        files: dict[str, float] = {}
        loose: list[Path] = []
        _note_loose(self.root, loose)
        _walk(str(self.root), "", files, loose, skip=_SPECIAL | _NOT_OURS)
        for special in _SPECIAL:
            _note_loose(self.root / special, loose)
        quarantined: dict[str, float] = {}
        if self.quarantine_dir.is_dir():
            _walk(str(self.quarantine_dir), "", quarantined, loose, skip=frozenset())
        return StorageScan(
            exists=True, files=files, quarantined=frozenset(quarantined), loose=tuple(loose)
        )

    async def quarantine(self, key: str) -> None:
        """Move a file no row lists to the quarantine folder, under the same relative path."""
        await anyio.to_thread.run_sync(self._move, self.path(key), self._quarantined(key))

    async def restore(self, key: str) -> None:
        """Move a quarantined file back to its place (a row lists it again)."""
        await anyio.to_thread.run_sync(self._move, self._quarantined(key), self.path(key))

    def _quarantined(self, key: str) -> Path:
        resolved = (self.quarantine_dir / key).resolve()
        if not resolved.is_relative_to(self.quarantine_dir.resolve()):
            raise ValueError("storage key escapes the quarantine directory")
        return resolved

    def _move(self, source: Path, target: Path) -> None:
        _makedirs_durable(target.parent)
        if target.exists():  # never replace: keep both
            target = target.with_name(f"{target.stem}.{secrets.token_hex(4)}{target.suffix}")
        try:
            os.rename(source, target)
        except FileNotFoundError:
            if os.path.lexists(source):
                raise
            return  # deleted meanwhile (its capture, on request): nothing left to move
        _fsync_dir(target.parent)
        _fsync_dir(source.parent)

    async def purge_quarantine(self) -> int:
        """Delete every quarantined file (only ever on the operator's explicit request)."""
        return await anyio.to_thread.run_sync(self._purge_quarantine_sync)

    def _purge_quarantine_sync(self) -> int:
        removed = 0
        if not self.quarantine_dir.is_dir():
            return removed
        for dirpath, _dirnames, filenames in os.walk(self.quarantine_dir):
            for name in filenames:
                with contextlib.suppress(FileNotFoundError):
                    Path(dirpath, name).unlink()
                    removed += 1
        return removed

    async def purge_temp(self) -> int:
        """Remove uploads that never finished (the server stopped mid-request)."""
        return await anyio.to_thread.run_sync(self._purge_temp_sync)

    def _purge_temp_sync(self) -> int:
        removed = 0
        if self.temp.is_dir():
            for entry in self.temp.iterdir():
                with contextlib.suppress(FileNotFoundError):
                    entry.unlink()
                    removed += 1
        return removed
