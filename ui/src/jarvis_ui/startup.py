"""Starting a Qt tray app robustly: the display check, waiting for the tray host, signals."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Mapping
from types import FrameType

from PySide6.QtCore import QCoreApplication, QTimer
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from jarvis_ui.errors import UIError

HEADLESS_HINT = (
    "run the agent without a tray: `jarvis run --headless` "
    "(control it with `jarvis status`, `jarvis pause`, `jarvis resume`)"
)

# Desktop autostart entries race the panel: the tray host may appear a few seconds after us.
TRAY_WAIT_SECONDS = 10.0


class NoDisplayError(UIError, RuntimeError):
    """The tray app cannot run in this session; the message says why and what to do instead."""


def display_problem(
    env: Mapping[str, str] | None = None, platform: str | None = None
) -> str | None:
    """Why this session cannot show the tray app, or None when it can."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if not platform.startswith("linux"):
        return None
    qpa = env.get("QT_QPA_PLATFORM", "")
    if qpa.startswith(("offscreen", "minimal")):
        return None
    wayland = env.get("XDG_SESSION_TYPE", "").lower() == "wayland" or qpa.startswith("wayland")
    socket = env.get("WAYLAND_DISPLAY", "")
    if wayland and socket and not socket.startswith("/") and not env.get("XDG_RUNTIME_DIR"):
        # A socket's name is relative to that folder; without it nothing can reach the desktop,
        # and GTK (which Qt loads for its theme on GNOME) ends the process with only "cannot
        # open display:". It is missing where a shell did not come from the desktop's login.
        return (
            "This is a Wayland session, but XDG_RUNTIME_DIR is not set, so the desktop's "
            "sockets cannot be found (this happens in a shell opened with sudo, su or ssh): "
            f"start Jarvis from inside your desktop session as yourself, or {HEADLESS_HINT}."
        )
    if wayland and env.get("WAYLAND_DISPLAY"):
        # The tray shows through StatusNotifierItem (or its fallback window); whether this
        # compositor can be captured is the platform backend's verdict, told by the agent.
        return None
    if wayland:
        return (
            "This is a Wayland session, but WAYLAND_DISPLAY is not set, so there is no desktop "
            "to show the tray on: start Jarvis from inside your desktop session, or "
            f"{HEADLESS_HINT}."
        )
    if not env.get("DISPLAY"):
        return (
            "No display: DISPLAY is not set, so there is no desktop to show the tray icon on. "
            f"To {HEADLESS_HINT}."
        )
    return None


class QuitRequest:
    """SIGINT/SIGTERM, remembered until the tray can act on it.

    `app.quit()` does nothing before `app.exec()` runs, so a signal during start-up (waiting for
    the tray host, starting the service) would be lost and the tray would run on: start-up checks
    `requested` and ends instead. A plain flag, not a lock: the handler runs on the main thread,
    between the bytecodes of whatever that thread is doing.
    """

    def __init__(self) -> None:
        self.requested = False


def wait_for_tray(
    app: QCoreApplication,
    timeout: float = TRAY_WAIT_SECONDS,
    *,
    quit_request: QuitRequest | None = None,
) -> bool:
    """Whether a system tray host appeared within `timeout` seconds, processing events meanwhile.

    Gives up at once (False) when a quit was requested.
    """
    deadline = time.monotonic() + timeout
    while True:
        if QSystemTrayIcon.isSystemTrayAvailable():
            return True
        if time.monotonic() >= deadline or (quit_request is not None and quit_request.requested):
            return False
        app.processEvents()
        time.sleep(0.1)


def quit_on_signals(app: QApplication) -> QuitRequest:
    """Quit cleanly on SIGINT/SIGTERM, before the event loop runs too (see QuitRequest)."""
    request = QuitRequest()

    def handler(signum: int, frame: FrameType | None) -> None:
        del signum, frame
        request.requested = True
        app.quit()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    # Python runs signal handlers only between bytecodes; Qt's C++ loop gives it none without
    # a periodic wake-up.
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(250)
    return request
