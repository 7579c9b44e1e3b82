"""Is this GNOME session ready for Jarvis? One message naming what is missing and the exact step.

Three things must hold before any frame is taken: GNOME Shell is on the session bus, Jarvis's
Shell extension answers there (installed, enabled, and loaded: on Wayland GNOME loads a new
extension only at login), and the user allowed screenshots once in the portal's dialog.
"""

from __future__ import annotations

from jarvis_platform.errors import PlatformError
from jarvis_platform.gnome_dbus import EXTENSION, SHELL, Bus, ImpostorError, shell_extension

__all__ = ["gnome_readiness"]

_PREFIX = "GNOME on Wayland: "
_STEP = "Run `jarvis setup gnome`"


def gnome_readiness(bus_address: str = "SESSION") -> str | None:
    """None when Jarvis can capture this GNOME session; otherwise why not and what to do."""
    from jarvis_platform.gnome_portal import screenshot_permission

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
        granted = screenshot_permission(bus)
        if granted is None:
            return (
                f"{_PREFIX}GNOME has not yet allowed Jarvis to take screenshots, so it captures "
                f"nothing (it never makes GNOME's permission dialog appear by itself). {_STEP}: "
                "it explains GNOME's one-time 'Allow applications to take screenshots?' "
                "question and asks it; answer Allow"
            )
        if not granted:
            return (
                f"{_PREFIX}screenshots were denied to Jarvis in GNOME's permission dialog, so it "
                f"captures nothing. {_STEP} to be asked again, and answer Allow"
            )
    except PlatformError as exc:
        return f"{_PREFIX}the session bus did not answer ({exc}); Jarvis captures nothing"
    finally:
        bus.close()
    return None
