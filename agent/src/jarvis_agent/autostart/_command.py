"""The command line that starts Jarvis at login."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from jarvis_agent.autostart._base import AutostartError


def _jarvis_executable() -> str:
    if getattr(sys, "frozen", False):
        # A PyInstaller bundle: the interpreter is the `jarvis` program itself.
        return sys.executable
    # A Python environment: the console script sits beside the interpreter (venv bin/ or Scripts/).
    scripts = Path(sys.executable).parent
    for name in ("jarvis", "jarvis.exe"):
        candidate = scripts / name
        if candidate.is_file():
            return str(candidate.absolute())
    found = shutil.which("jarvis")
    if found is None:
        raise AutostartError(
            "cannot find the `jarvis` program to start at login; install Jarvis "
            "(packaging/README.md) or put `jarvis` on PATH"
        )
    return str(Path(found).absolute())


def launch_command(*, headless: bool = False) -> list[str]:
    """argv that starts Jarvis: the tray app, or the agent without a UI when `headless`."""
    argv = [_jarvis_executable()]
    if headless:
        argv += ["run", "--headless"]
    return argv
