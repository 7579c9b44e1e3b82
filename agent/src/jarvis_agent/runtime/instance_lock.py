"""One agent per user: an exclusive lock on a file in the runtime directory.

The lock is held by the open file (fcntl on POSIX, msvcrt on Windows), so the operating system
releases it when the process dies, even by kill -9; a stale file never blocks a new agent. The
holder writes its pid into the file so a second `jarvis run` can say who is running.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from jarvis_agent.errors import AgentError

__all__ = ["AgentLock", "AlreadyRunningError", "file_lock", "read_lock_pid"]


class AlreadyRunningError(AgentError, RuntimeError):
    """Another agent of this user holds the lock."""

    def __init__(self, path: Path, pid: int | None) -> None:
        who = f"with pid {pid}" if pid else "(pid unknown)"
        super().__init__(
            f"a Jarvis agent is already running {who}; use `jarvis status` to see it, or stop it "
            f"before starting another (lock file: {path})"
        )
        self.pid = pid
        self.path = path


def read_lock_pid(path: Path) -> int | None:
    """The pid written by the lock's holder, if any."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def _try_lock(handle: IO[str]) -> bool:
    if sys.platform == "win32":
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) for the `with` block; waits for it.

    Like the agent lock it belongs to the open file, so a writer killed mid-write never leaves
    the others waiting.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if sys.platform == "win32":
            import msvcrt

            msvcrt.locking(fd, msvcrt.LK_LOCK, 1)  # retries for about 10 s, then OSError
        else:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the file drops the lock


class AgentLock:
    """`with AgentLock(path):` holds the per-user agent lock or raises AlreadyRunningError."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Opened without truncation: the holder's pid must stay readable for the loser.
        handle = open(self.path, "a+", encoding="ascii")  # noqa: SIM115 - held until release()
        if not _try_lock(handle):
            handle.close()
            raise AlreadyRunningError(self.path, read_lock_pid(self.path))
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        handle, self._handle = self._handle, None
        if handle is None:
            return
        with contextlib.suppress(OSError):
            handle.seek(0)
            handle.truncate()
        handle.close()  # closing the file drops the lock

    @property
    def held(self) -> bool:
        return self._handle is not None

    def __enter__(self) -> AgentLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
