"""macOS through Quartz Window Services (pyobjc), behind the same Protocol as X11.

Windows come from CGWindowListCopyWindowInfo (on-screen only, front to back), which returns one
dictionary per window with the kCGWindow* keys; `windows_from_quartz` turns such a list into
WindowInfo, and is what the replay tests drive with recorded lists. Idle time comes from
CGEventSourceSecondsSinceLastEventType, the lock state from CGSessionCopyCurrentDictionary's
CGSSessionScreenIsLocked. Window titles (kCGWindowName) are only present with the Screen Recording
permission, which capturing needs anyway. Coordinates are points, as mss's macOS monitors are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jarvis_platform.errors import PlatformError, UnsupportedSessionError
from jarvis_platform.types import Rect, WindowInfo

__all__ = ["MacOSPlatform", "locked_from_session", "windows_from_quartz"]


def _int(value: Any, default: int = 0) -> int:
    try:
        return round(float(value))
    except (TypeError, ValueError):
        return default


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def windows_from_quartz(
    entries: Sequence[Mapping[str, Any]], *, frontmost_pid: int | None
) -> list[WindowInfo]:
    """WindowInfo (bottom to top) from CGWindowListCopyWindowInfo's front-to-back dictionaries.

    The active window is the frontmost normal-layer (0) window of the frontmost application.
    Windows of every layer are kept: menu-bar extras and panels of a password manager are drawn
    too, and overlays (menu bar, Dock) cover what is below them.
    """
    found: list[WindowInfo] = []
    active_taken = False
    total = len(entries)
    for position, entry in enumerate(entries):
        bounds = entry.get("kCGWindowBounds") or {}
        rect = Rect(
            _int(bounds.get("X")),
            _int(bounds.get("Y")),
            _int(bounds.get("Width")),
            _int(bounds.get("Height")),
        )
        pid = entry.get("kCGWindowOwnerPID")
        pid = _int(pid) if pid is not None else None
        onscreen = bool(entry.get("kCGWindowIsOnscreen", False))
        alpha = float(entry.get("kCGWindowAlpha", 1.0) or 0.0)
        layer = _int(entry.get("kCGWindowLayer"))
        hidden = not onscreen or alpha <= 0.0
        active = (
            not active_taken
            and not hidden
            and layer == 0
            and frontmost_pid is not None
            and pid == frontmost_pid
        )
        active_taken = active_taken or active
        found.append(
            WindowInfo(
                id=_int(entry.get("kCGWindowNumber")),
                app_name=_text(entry.get("kCGWindowOwnerName")),
                title=_text(entry.get("kCGWindowName")),
                rect=rect,
                pid=pid,
                active=active,
                hidden=hidden,
                stacking=total - 1 - position,
            )
        )
    found.reverse()
    return found


def locked_from_session(session: Mapping[str, Any] | None) -> bool:
    """True when CGSessionCopyCurrentDictionary says the screen is locked (or no session: login)."""
    if session is None:
        return True
    return bool(session.get("CGSSessionScreenIsLocked", False))


class MacOSPlatform:
    """The macOS window system. Needs pyobjc-framework-Quartz (installed with Jarvis on macOS)."""

    def __init__(self) -> None:
        try:
            import AppKit  # type: ignore[import-not-found]  # pyobjc: macOS only
            import Quartz  # type: ignore[import-not-found]
        except ImportError as exc:
            raise UnsupportedSessionError(
                "the macOS window APIs are not available (pyobjc-framework-Quartz is missing); "
                "reinstall Jarvis, which installs it on macOS"
            ) from exc
        self._quartz: Any = Quartz
        self._appkit: Any = AppKit

    def _frontmost_pid(self) -> int | None:
        app = self._appkit.NSWorkspace.sharedWorkspace().frontmostApplication()
        return int(app.processIdentifier()) if app is not None else None

    def windows(self) -> list[WindowInfo]:
        q = self._quartz
        options = q.kCGWindowListOptionOnScreenOnly | q.kCGWindowListExcludeDesktopElements
        raw = q.CGWindowListCopyWindowInfo(options, q.kCGNullWindowID)
        if raw is None:
            raise PlatformError(
                "macOS returned no window list; grant Jarvis the Screen Recording permission in "
                "System Settings > Privacy & Security"
            )
        entries = [dict(entry) for entry in raw]
        return windows_from_quartz(entries, frontmost_pid=self._frontmost_pid())

    def active_window(self) -> WindowInfo | None:
        return next((w for w in self.windows() if w.active), None)

    def idle_seconds(self) -> float | None:
        q = self._quartz
        return float(
            q.CGEventSourceSecondsSinceLastEventType(
                q.kCGEventSourceStateCombinedSessionState, q.kCGAnyInputEventType
            )
        )

    def is_locked(self) -> bool:
        session = self._quartz.CGSessionCopyCurrentDictionary()
        return locked_from_session(dict(session) if session is not None else None)

    def close(self) -> None:
        return None
