"""The server's files are private to its user: folders 0700, files 0600, whatever the umask.

Captures show whatever was on a screen, the database holds window titles and the log names
devices, so nothing the server keeps may be readable by another user of the machine. New files
are created private (the process umask is 077 and every creation passes its mode); files left
with looser modes by an older server are tightened at start, with one warning naming them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

PRIVATE_DIR: Final = 0o700
PRIVATE_FILE: Final = 0o600
PRIVATE_UMASK: Final = 0o077
_SHOWN: Final = 5  # paths named in the warning; the rest are counted


def make_private_dir(path: Path) -> list[Path]:
    """Create `path` and any missing parents at 0700; returns the folders created, outermost
    first. An explicit chmod makes the mode exact whatever the umask."""
    created: list[Path] = []
    p = path
    while not p.exists():
        created.append(p)
        if p.parent == p:
            break
        p = p.parent
    created.reverse()
    for folder in created:
        try:
            folder.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:
            continue  # made meanwhile by a concurrent upload: its mode is already private
        os.chmod(folder, PRIVATE_DIR)
    return created


def open_private(path: Path, flags: int) -> int:
    """os.open creating the file 0600 (and making an existing one 0600)."""
    fd = os.open(path, flags, PRIVATE_FILE)
    if flags & os.O_CREAT and stat.S_IMODE(os.fstat(fd).st_mode) != PRIVATE_FILE:
        os.fchmod(fd, PRIVATE_FILE)
    return fd


def wanted_mode(mode: int) -> int | None:
    """The private mode for a folder or regular file of this st_mode; None for anything else."""
    if stat.S_ISDIR(mode):
        return PRIVATE_DIR
    if stat.S_ISREG(mode):
        return PRIVATE_FILE
    return None


def is_loose(mode: int) -> bool:
    """A folder or regular file whose mode is not exactly private (checked without a chmod)."""
    wanted = wanted_mode(mode)
    return wanted is not None and stat.S_IMODE(mode) != wanted


def tighten(paths: Iterable[Path]) -> list[Path]:
    """Make each existing folder 0700 and file 0600 (symlinks are not followed); returns the
    paths whose mode changed. A path that vanished or is not ours to change is skipped."""
    fixed: list[Path] = []
    for path in paths:
        try:
            mode = path.lstat().st_mode
            wanted = wanted_mode(mode)
            if wanted is not None and stat.S_IMODE(mode) != wanted:
                os.chmod(path, wanted)
                fixed.append(path)
        except OSError:
            continue
    return fixed


def tighten_stream(fd: int) -> bool:
    """Make a regular file behind `fd` (stderr redirected to a log) 0600; True if it changed."""
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid():
            return False
        if stat.S_IMODE(info.st_mode) == PRIVATE_FILE:
            return False
        os.fchmod(fd, PRIVATE_FILE)
    except OSError:
        return False
    return True


def describe_fixed(paths: Sequence[Path | str]) -> str:
    """The paths of a 'modes fixed' warning: the first few by name, the rest counted."""
    shown = ", ".join(str(p) for p in paths[:_SHOWN])
    more = len(paths) - _SHOWN
    return f"{shown} and {more} more" if more > 0 else shown
