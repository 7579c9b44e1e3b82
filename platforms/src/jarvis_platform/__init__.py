"""The platform layer: windows, frames, focus, idle time and lock state, one implementation per
desktop. It reports what is on screen and grabs it; what to do about it (the privacy policy) is the
agent's.

`get_platform()` picks the implementation for this session and imports it lazily, so python-xlib
is never imported on macOS, nor pyobjc on Linux. A Wayland session is refused: its windows are
invisible to X11 clients, so excluded windows could not be found and blacked out.
"""

from __future__ import annotations

import os
import sys

from jarvis_platform.errors import PlatformError, UnsupportedSessionError
from jarvis_platform.types import (
    ActiveWindow,
    ActiveWindowEvents,
    DamageSource,
    Monitor,
    Platform,
    Rect,
    WindowInfo,
    WindowWatch,
    subtract_all,
)

__all__ = [
    "ActiveWindow",
    "ActiveWindowEvents",
    "DamageSource",
    "Monitor",
    "Platform",
    "PlatformError",
    "Rect",
    "UnsupportedSessionError",
    "WindowInfo",
    "WindowWatch",
    "check_session",
    "get_platform",
    "subtract_all",
]

WAYLAND_MESSAGE = (
    "this is a Wayland session ({evidence}). Jarvis can only see and black out windows on X11: "
    "windows of native Wayland apps are invisible to it, so it refuses to capture rather than risk "
    "recording a window you excluded. Log in to an X11 session (for example 'GNOME on Xorg' or "
    "'Plasma (X11)' on the login screen) and start Jarvis again."
)


def check_session(environ: dict[str, str] | None = None, platform: str | None = None) -> str:
    """The kind of session Jarvis would capture ("x11", "macos", "windows"), or a clear refusal.

    Raises UnsupportedSessionError for Wayland, a missing display, or an unsupported OS.
    """
    env = dict(os.environ) if environ is None else environ
    system = sys.platform if platform is None else platform
    if system == "darwin":
        return "macos"
    if system == "win32":
        return "windows"
    if not system.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        raise UnsupportedSessionError(
            f"this operating system ({system}) is not supported; Jarvis runs on Linux/BSD "
            "with X11, on macOS and on Windows"
        )
    session_type = env.get("XDG_SESSION_TYPE", "").strip().lower()
    if session_type == "wayland":
        raise UnsupportedSessionError(WAYLAND_MESSAGE.format(evidence="XDG_SESSION_TYPE=wayland"))
    if env.get("WAYLAND_DISPLAY", "").strip():
        raise UnsupportedSessionError(
            WAYLAND_MESSAGE.format(evidence=f"WAYLAND_DISPLAY={env['WAYLAND_DISPLAY']}")
        )
    if not env.get("DISPLAY", "").strip():
        raise UnsupportedSessionError(
            "no display to capture: DISPLAY is not set. Start Jarvis from inside your X11 desktop "
            "session (autostart does this), not from a plain console or SSH login."
        )
    return "x11"


def get_platform() -> Platform:
    """The platform implementation for this session; raises UnsupportedSessionError if none fits."""
    kind = check_session()
    if kind == "macos":
        from jarvis_platform.macos import MacOSPlatform

        return MacOSPlatform()
    if kind == "windows":
        from jarvis_platform.windows import WindowsPlatform

        return WindowsPlatform()
    from jarvis_platform.x11 import X11Platform

    return X11Platform()
