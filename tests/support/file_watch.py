"""Which files were written under some directories while a block ran (Linux inotify, ctypes).

A before/after listing misses a file written and deleted in between (the screenshot portal's
PNG was such a file): inotify sees each one. Directories created meanwhile are watched too.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import select
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["IMAGE_SUFFIXES", "files_written"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".ppm", ".pnm", ".raw", ".tiff")

_IN_CLOSE_WRITE, _IN_MOVED_TO, _IN_CREATE = 0x008, 0x080, 0x100
_IN_ISDIR, _IN_Q_OVERFLOW = 0x40000000, 0x4000
_MASK = _IN_CLOSE_WRITE | _IN_MOVED_TO | _IN_CREATE
_HEADER = struct.Struct("iIII")

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


class _Watcher:
    def __init__(self) -> None:
        self.fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.dirs: dict[int, Path] = {}
        self.deep: set[int] = set()  # watches whose new subdirectories are watched too
        self.seen: list[Path] = []

    def add(self, directory: Path, *, recursive: bool) -> None:
        wd = _libc.inotify_add_watch(self.fd, os.fsencode(directory), _MASK)
        if wd < 0:
            return  # gone, or not a directory we may watch
        self.dirs[wd] = directory
        if recursive:
            self.deep.add(wd)
            for child in directory.iterdir() if directory.is_dir() else ():
                if child.is_dir() and not child.is_symlink():
                    self.add(child, recursive=True)

    def drain(self, wait: float = 0.0) -> None:
        while select.select([self.fd], [], [], wait)[0]:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            offset = 0
            while offset < len(data):
                wd, mask, _, length = _HEADER.unpack_from(data, offset)
                name = data[offset + _HEADER.size : offset + _HEADER.size + length].rstrip(b"\0")
                offset += _HEADER.size + length
                if mask & _IN_Q_OVERFLOW:
                    raise AssertionError("inotify queue overflowed: events were lost")
                if wd not in self.dirs:
                    continue
                path = self.dirs[wd] / os.fsdecode(name)
                if mask & _IN_ISDIR:
                    if wd in self.deep:
                        self.add(path, recursive=True)
                else:
                    self.seen.append(path)


@contextmanager
def files_written(recursive: list[Path], shallow: list[Path]) -> Iterator[list[Path]]:
    """Yield a list that, after the block, holds every file created, written or moved in under
    `recursive` (and directories made there meanwhile) or directly in `shallow`."""
    watcher = _Watcher()
    seen: list[Path] = []
    try:
        for root in recursive:
            watcher.add(root, recursive=True)
        for root in shallow:
            watcher.add(root, recursive=False)
        # Drain as events come, so a directory made meanwhile is watched before files land in it.
        done = threading.Event()

        def pump() -> None:
            while not done.is_set():
                watcher.drain(wait=0.01)

        thread = threading.Thread(target=pump, name="file-watch", daemon=True)
        thread.start()
        try:
            yield seen
        finally:
            done.set()
            thread.join()
        watcher.drain()
        seen.extend(dict.fromkeys(watcher.seen))
    finally:
        os.close(watcher.fd)
