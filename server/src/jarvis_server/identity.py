"""The identity key a local server proves itself with (JARVIS_IDENTITY_KEY_FILE).

`jarvis up` gives the server it starts the path of a file only its user can read; the agent then
asks the server to answer a challenge with that key before it sends a token (see
jarvis_contract.identity_proof). A key others could read proves nothing, so such a file is
refused at start-up.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from jarvis_contract import IDENTITY_KEY_BYTES, read_identity_key_text
from jarvis_server.errors import JarvisServerError


class IdentityKeyError(JarvisServerError):
    """The identity key file cannot be used; the message says why and what to do."""


def read_identity_key(path: Path) -> bytes:
    """The key in `path`: a regular file of the server's user, unreadable to others, hex text."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        raise IdentityKeyError(f"cannot read {path}: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise IdentityKeyError(f"{path} is not a regular file")
        if sys.platform != "win32" and (info.st_uid != os.getuid() or info.st_mode & 0o077):
            raise IdentityKeyError(
                f"{path} must belong to the server's user and be readable by it alone (chmod 600)"
            )
        key = read_identity_key_text(handle)
    if key is None:
        raise IdentityKeyError(
            f"{path} does not hold a key of {IDENTITY_KEY_BYTES} hex-encoded bytes"
        )
    return key
