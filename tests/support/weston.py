"""Fixture: a real headless weston, the compositor Jarvis must refuse (no trustworthy window list).

weston 10 runs as the spare uid (as sway does, tests/support/wayland.py) in a fresh 0700 runtime
dir: `weston --backend=headless-backend.so --use-pixman --xwayland --debug`. With --xwayland it
also serves an X display to X11 clients, which must not make Jarvis treat the session as X11.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import start_process, stop_process
from tests.support.wayland import SWAY_UID, _ensure_user, wait_for


@dataclass
class Weston:
    base: Path
    wayland_socket: Path
    x_display: str | None
    process: subprocess.Popen[bytes]

    @property
    def env(self) -> dict[str, str]:
        """A program's environment inside this weston session (nothing names the desktop)."""
        drop = ("DISPLAY", "WAYLAND_DISPLAY", "SWAYSOCK", "XDG_CURRENT_DESKTOP")
        env = {k: v for k, v in os.environ.items() if k not in drop}
        env.update(WAYLAND_DISPLAY=str(self.wayland_socket), XDG_SESSION_TYPE="wayland")
        if self.x_display:
            env["DISPLAY"] = self.x_display
        return env


@pytest.fixture(scope="session")
def weston() -> Iterator[Weston]:
    if shutil.which("weston") is None:
        pytest.fail("weston is not installed: run scripts/bootstrap.sh")
    _ensure_user()
    base = Path(tempfile.mkdtemp(prefix="jarvis-weston-"))
    base.chmod(0o755)
    runtime = base / "runtime"
    runtime.mkdir(mode=0o700)
    os.chown(runtime, SWAY_UID, SWAY_UID)
    log_path = base / "weston.log"
    with log_path.open("wb") as log:
        process = start_process(
            [
                "weston", "--backend=headless-backend.so", "--use-pixman", "--xwayland",
                "--debug", "--socket=wayland-w",
            ],
            uid=SWAY_UID,
            env={
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "HOME": str(runtime),
                "XDG_RUNTIME_DIR": str(runtime),
            },
            cwd=base,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    def ready() -> str | None:
        if process.poll() is not None:
            raise RuntimeError(f"weston exited: {log_path.read_text(errors='replace')[-2000:]}")
        text = log_path.read_text("utf-8", "replace")
        found = re.search(r"xserver listening on display (:\d+)", text)
        return found.group(1) if found and (runtime / "wayland-w").is_socket() else None

    try:
        display = wait_for(ready, "weston's sockets")
        yield Weston(base, runtime / "wayland-w", display, process)
    finally:
        stop_process(process, timeout=10)
        shutil.rmtree(base, ignore_errors=True)
