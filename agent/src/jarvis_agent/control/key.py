"""The control key: a random secret in a user-only file that proves a client is this user's.

A named pipe's default security descriptor lets Everyone open it for reading, so on Windows the
pipe itself does not keep other users out. Both ends instead prove they hold this key (the HMAC
challenge of multiprocessing.connection) before a single request is read. The file lives in the
agent's private data directory (user-only by the profile's ACL on Windows, 0600 in a 0700 dir on
POSIX), is created once, atomically, and is never logged, printed or put in a message.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import sys
import tempfile
from pathlib import Path
from typing import Final

from jarvis_agent.control.protocol import ControlError

__all__ = ["KEY_BYTES", "load_or_create_key", "read_key"]

KEY_BYTES: Final = 32
_POSIX: Final = sys.platform != "win32"


def _damaged(path: Path, why: str) -> ControlError:
    return ControlError(
        f"the control key file {path} {why}; delete it and restart the agent (it makes a new one)"
    )


def read_key(path: Path) -> bytes:
    """The key in `path`; FileNotFoundError if there is none, ControlError if it is unusable."""
    if _POSIX:
        info = path.stat()
        if info.st_uid != os.getuid():
            raise _damaged(path, "belongs to another user")
        if stat.S_IMODE(info.st_mode) & 0o077:
            raise _damaged(path, "can be read by other users")
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise _damaged(path, f"cannot be read ({type(exc).__name__})") from exc
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        # Never echo the content: it may be most of a secret.
        raise _damaged(path, f"does not hold a {KEY_BYTES}-byte hex key")
    return key


def load_or_create_key(path: Path) -> bytes:
    """The key in `path`, made first if there is none (safe against a concurrent maker)."""
    with contextlib.suppress(FileNotFoundError):
        return read_key(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Written whole to a private temporary file (mkstemp: 0600), then linked into place: a reader
    # never sees half a key, and link() refuses to replace a key someone else made meanwhile.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".control-key-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_hex(KEY_BYTES) + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return read_key(path)
