"""Is this GNOME session ready for Jarvis? One message naming what is missing and the exact step.

Three things must hold before any frame is taken: GNOME Shell is on the session bus, Jarvis's
Shell extension answers there (installed, enabled, and loaded: on Wayland GNOME loads a new
extension only at login), and the user shared the screens once in the portal's screen-cast
dialog (the restore token Jarvis keeps still restores without asking).
"""

from __future__ import annotations

from jarvis_platform.errors import PlatformError
from jarvis_platform.gnome_dbus import EXTENSION, SHELL, Bus, ImpostorError, shell_extension

__all__ = ["gnome_readiness"]

_PREFIX = "GNOME on Wayland: "
_STEP = "Run `jarvis setup gnome`"


def gnome_readiness(bus_address: str = "SESSION") -> str | None:
    """None when Jarvis can capture this GNOME session; otherwise why not and what to do."""
    from jarvis_platform.gnome_screencast import screencast_readiness

    try:
        bus = Bus(bus_address, timeout=2.0)
    except PlatformError as exc:
        return f"{_PREFIX}{exc}; start Jarvis from inside your GNOME session"
    try:
        if not bus.has_owner(SHELL.bus_name):
            return (
                f"{_PREFIX}GNOME Shell (org.gnome.Shell) is not on the session bus, so Jarvis "
                "cannot see its windows and captures nothing; start Jarvis from inside your "
                "GNOME session"
            )
        if not bus.has_owner(EXTENSION.bus_name):
            return (
                f"{_PREFIX}Jarvis's GNOME Shell extension (jarvis@jarvis.local) is not running, "
                "so Jarvis cannot see GNOME's windows and captures nothing. "
                f"{_STEP}, then log out and back in once (GNOME loads a new extension at login "
                "on Wayland)"
            )
        try:
            shell_extension(bus)
        except ImpostorError as exc:
            return f"{_PREFIX}{exc}"
        problem = screencast_readiness(bus)
        if problem is not None:
            return f"{_PREFIX}{problem}"
    except PlatformError as exc:
        return f"{_PREFIX}the session bus did not answer ({exc}); Jarvis captures nothing"
    finally:
        bus.close()
    return None
