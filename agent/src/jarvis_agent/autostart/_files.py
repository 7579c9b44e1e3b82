"""Small file helpers shared by the writers."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from jarvis_agent.autostart._base import AutostartError


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so a crash never leaves half an entry behind."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise AutostartError(f"cannot write {path}: {exc.strerror or exc}") from exc


def remove(path: Path) -> bool:
    """Delete `path`; True if it existed."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise AutostartError(f"cannot remove {path}: {exc.strerror or exc}") from exc
    return True
