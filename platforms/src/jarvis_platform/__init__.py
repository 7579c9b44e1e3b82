"""The platform layer: windows, frames, focus, idle time and lock state, one implementation per
desktop. It reports what is on screen and grabs it; what to do about it (the privacy policy) is the
agent's.

`get_platform()` takes the best backend for this session (see backends.py: each backend gives a
verdict with its reason, `choose()` orders them) and imports it lazily, so python-xlib is never
imported on macOS, nor pyobjc on Linux. A session no backend fits (a Wayland compositor other than
sway, or GNOME without Jarvis's Shell extension or the screenshot permission) is refused: without
a window list Jarvis can trust, excluded windows could not be blacked out, so no frame is taken.
"""

from __future__ import annotations

from jarvis_platform.backends import Choice, FailBackend, Verdict, choose
from jarvis_platform.errors import PlatformError, UnsupportedSessionError
from jarvis_platform.types import (
    ActiveWindow,
    ActiveWindowEvents,
    DamageSource,
    Frame,
    FrameProvider,
    FrameSource,
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
    "Choice",
    "DamageSource",
    "Frame",
    "FrameProvider",
    "FrameSource",
    "Monitor",
    "Platform",
    "PlatformError",
    "Rect",
    "UnsupportedSessionError",
    "Verdict",
    "WindowInfo",
    "WindowWatch",
    "check_session",
    "choose",
    "get_platform",
    "subtract_all",
]


def check_session(environ: dict[str, str] | None = None, platform: str | None = None) -> str:
    """The backend Jarvis would capture with ("x11", "sway", "gnome", "macos", "windows").

    Raises UnsupportedSessionError when no backend fits (a Wayland compositor other than sway,
    a missing display, an unsupported OS), with the message saying why and what to do.
    """
    choice = choose(environ, platform)
    if isinstance(choice.backend, FailBackend):
        raise UnsupportedSessionError(choice.backend.message)
    return choice.backend.kind


def get_platform() -> Platform:
    """The platform of the best backend for this session; raises UnsupportedSessionError if none
    fits (or the chosen one cannot start)."""
    choice = choose()
    if isinstance(choice.backend, FailBackend):
        raise UnsupportedSessionError(choice.backend.message)
    return choice.backend.create()
