"""Real Chromium (Debian's package) as a native Wayland client of the headless sway, a11y on.

`sway_chromium` (once per module) starts a private session bus with accessibility switched on
(as tests/support/chromium.py does for X11) and two Chromium processes on the session's sway,
each with a private profile: one started normally and one started with --incognito. They run
as root like the fixture's other clients (root reaches sway's sockets by path) with
--ozone-platform=wayland: measured here, Chromium 156 maps its windows both this way and through
Xwayland, and names its frames on the accessibility bus either way. Native Wayland is the
harder case (no X window id, extents relative to the window's own surface).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.chromium import (
    BANK_RGB,
    STARTUP_TIMEOUT,
    WORK_RGB,
    _accessibility_bus,
    _page,
    start_chromium,
    stop_session,
)
from tests.support.wayland import Sway, SwayError, wait_for


@dataclass
class SwayChromium:
    """The bus, the two browser processes on sway, and helpers to find their windows."""

    sway: Sway
    bus: str
    workdir: Path
    normal: subprocess.Popen[bytes] | None = None
    private: subprocess.Popen[bytes] | None = None
    _processes: list[Any] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {
            **self.sway.env,
            "XDG_RUNTIME_DIR": str(self.sway._client_runtime()),
            "DBUS_SESSION_BUS_ADDRESS": self.bus,
        }

    def page(self, name: str, title: str, rgb: tuple[int, int, int] = BANK_RGB) -> str:
        return _page(self.workdir, name, title, rgb)

    def start(self, *args: str, profile: str) -> subprocess.Popen[bytes]:
        """Chromium with this profile, on sway as a native Wayland client (`start_chromium`)."""
        args = ("--ozone-platform=wayland", *args)
        return start_chromium(self.workdir, self.env, self._processes, *args, profile=profile)

    def wait_view(self, title: str, pid: int | None = None) -> dict[str, Any]:
        """sway's node of the visible window with exactly this title (of this process)."""

        def shown() -> dict[str, Any] | None:
            for view in self.sway.views():
                mine = pid is None or view.get("pid") == pid
                if view.get("name") == title and view.get("visible") and mine:
                    return view
            return None

        return dict(wait_for(shown, f"a Chromium window titled {title!r}", STARTUP_TIMEOUT))

    def close_view(self, title: str) -> None:
        self.sway.command(f'[title="^{title}$"]', "kill")
        wait_for(
            lambda: not any(v.get("name") == title for v in self.sway.views()),
            f"{title!r} to close",
        )

    def stop(self) -> None:
        stop_session(self.workdir, self._processes)


def start_sway_chromium(sway: Sway) -> SwayChromium:
    """The accessibility bus on, then a normal and an --incognito Chromium on `sway`."""
    if shutil.which("chromium") is None:
        raise SwayError("chromium is not installed (scripts/bootstrap.sh installs it)")
    session = SwayChromium(sway=sway, bus="", workdir=Path(tempfile.mkdtemp(prefix="jarvis-cr-")))
    try:
        session.bus = _accessibility_bus(session.env, session.workdir, session._processes)
        work = session.page("work", "Work notes", WORK_RGB)
        session.normal = session.start(work, profile="normal")
        session.wait_view("Work notes - Chromium", session.normal.pid)
        bank = session.page("bank", "Bank statement")
        session.private = session.start("--incognito", bank, profile="private")
        session.wait_view("Bank statement - Chromium", session.private.pid)
        sway.settle()
    except BaseException:
        session.stop()
        raise
    return session


@pytest.fixture(scope="module")
def sway_chromium(sway_session: Sway) -> Iterator[SwayChromium]:
    """Two real Chromium processes (normal, --incognito) on the session's sway, for one module,
    closed after it so no later test finds browser windows there."""
    sway_session.set_outputs([(0, 0, 1920, 1080, 1.0)])
    session = start_sway_chromium(sway_session)
    try:
        yield session
    finally:
        session.stop()
