"""Durable file writes: temp file -> fsync -> rename -> directory fsync."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def fsync_directory(directory: Path) -> None:
    """Make a rename or unlink in `directory` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # Windows cannot open a directory; NTFS journals the rename itself
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(target: Path, data: bytes, *, temp_dir: Path) -> None:
    """Write `data` to `target` so that after a crash either the whole file exists or none of it.

    The temp file lives in `temp_dir` (same file system as `target`) so recovery can sweep
    leftovers; on any error the temp file is removed and the error propagates.
    """
    temp = temp_dir / (target.name + ".tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise
    fsync_directory(target.parent)


def file_size(path: Path) -> int:
    """Size of `path` in bytes, 0 when it does not exist."""
    try:
        return path.stat().st_size
    except OSError:
        return 0
