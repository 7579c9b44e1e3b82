"""Choosing the platform backend: each says whether it can run here and how well, with the reason.

As keyring chooses its backend: every backend gives a `Verdict` for this session (a priority when
it is viable, None when not, and why either way); `choose()` gathers them, orders them and takes
the best viable one. When none is viable the choice is `FailBackend`, whose platform refuses every
call with a message naming the desktop, what is missing and what to do: no frame is ever taken
without a window list Jarvis can trust. `jarvis doctor` prints every verdict.

Adding a backend is one module (its Platform) plus one class here and its tests.
Backends are imported lazily, so python-xlib is never imported on macOS, nor pyobjc on Linux.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from jarvis_platform.errors import UnsupportedSessionError

if TYPE_CHECKING:
    from jarvis_platform.types import Platform, WindowInfo

__all__ = [
    "BACKENDS",
    "Backend",
    "Choice",
    "FailBackend",
    "FailPlatform",
    "GnomeBackend",
    "Session",
    "Verdict",
    "choose",
    "wayland_compositor",
]

WAYLAND_MESSAGE = (
    "this is a Wayland session ({evidence}) of {compositor}. On Wayland Jarvis can see and black "
    "out windows only under sway, KDE Plasma (KWin) and GNOME so far: {compositor} gives it no "
    "window list it can trust, so windows of native Wayland apps would be invisible to it, and it "
    "refuses to capture rather than risk recording a window you excluded. Log in to a sway, "
    "Plasma (Wayland) or GNOME session, or to an X11 session (for example 'GNOME on Xorg' "
    "or 'Plasma (X11)' on the login screen), and start Jarvis again."
)


@dataclass(frozen=True, slots=True)
class Session:
    """What the session says about itself: the environment and the operating system."""

    environ: Mapping[str, str]
    system: str

    def get(self, name: str) -> str:
        return self.environ.get(name, "").strip()

    @property
    def wayland(self) -> str | None:
        """Why this is a Wayland session (the evidence), or None when it is not one."""
        if self.get("XDG_SESSION_TYPE").lower() == "wayland":
            return "XDG_SESSION_TYPE=wayland"
        if self.get("WAYLAND_DISPLAY"):
            return f"WAYLAND_DISPLAY={self.get('WAYLAND_DISPLAY')}"
        return None

    @property
    def unix(self) -> bool:
        return self.system.startswith(("linux", "freebsd", "openbsd", "netbsd"))


@dataclass(frozen=True, slots=True)
class Verdict:
    """One backend's answer for this session: `priority` (higher wins) when viable, else None."""

    backend: str
    priority: int | None
    reason: str

    @property
    def viable(self) -> bool:
        return self.priority is not None

    def line(self) -> str:
        mark = f"priority {self.priority}" if self.priority is not None else "not viable"
        return f"{self.backend} ({mark}): {self.reason}"


class Backend:
    """A platform backend: `verdict()` for a session, `create()` for its Platform."""

    name: ClassVar[str]
    kind: ClassVar[str]  # what check_session() reports: "x11", "sway", "kwin", "macos", ...

    def verdict(self, session: Session) -> Verdict:
        raise NotImplementedError

    def create(self) -> Platform:
        raise NotImplementedError

    def _yes(self, priority: int, reason: str) -> Verdict:
        return Verdict(self.name, priority, reason)

    def _no(self, reason: str) -> Verdict:
        return Verdict(self.name, None, reason)


class X11Backend(Backend):
    name, kind = "X11", "x11"

    def verdict(self, session: Session) -> Verdict:
        if not session.unix:
            return self._no(f"not an X11 system ({session.system})")
        display = session.get("DISPLAY")
        if session.wayland is not None:
            what = f"DISPLAY={display} is Xwayland: " if display else ""
            return self._no(
                f"{what}this is a Wayland session ({session.wayland}), whose native windows X11 "
                "cannot see"
            )
        if not display:
            return self._no("DISPLAY is not set")
        return self._yes(10, f"DISPLAY={display}")

    def create(self) -> Platform:
        from jarvis_platform.x11 import X11Platform

        return X11Platform()


class SwayBackend(Backend):
    name, kind = "sway", "sway"

    def verdict(self, session: Session) -> Verdict:
        if session.wayland is None:
            return self._no("not a Wayland session")
        sock = session.get("SWAYSOCK")
        if not sock:
            return self._no("SWAYSOCK is not set (not sway, or Jarvis was not started by it)")
        if not Path(sock).is_socket():
            return self._no(f"SWAYSOCK={sock} is not a socket: is sway still running?")
        if not session.get("WAYLAND_DISPLAY"):
            return self._no("WAYLAND_DISPLAY is not set, so frames cannot be had from sway")
        return self._yes(
            20, f"sway's IPC at SWAYSOCK={sock}, frames by wlr-screencopy on {session.wayland}"
        )

    def create(self) -> Platform:
        from jarvis_platform.sway import SwayPlatform

        return SwayPlatform()


def _kwin_on_bus(session: Session) -> str | None:
    """Why org.kde.KWin cannot be reached on the session bus, or None when it is there."""
    from jarvis_platform.errors import PlatformError
    from jarvis_platform.kwin_bus import KWinBus

    try:
        bus = KWinBus(address=session.get("DBUS_SESSION_BUS_ADDRESS") or None)
    except PlatformError as exc:
        return str(exc)
    try:
        bus.kwin_owner()
    except PlatformError as exc:
        return str(exc)
    finally:
        bus.close()
    return None


class KWinBackend(Backend):
    name, kind = "KWin", "kwin"

    def verdict(self, session: Session) -> Verdict:
        if session.wayland is None:
            return self._no("not a Wayland session")
        desktop = session.get("XDG_CURRENT_DESKTOP")
        if "kde" not in desktop.casefold().split(":"):
            return self._no(f"XDG_CURRENT_DESKTOP={desktop or '(unset)'} is not KDE")
        if not session.get("WAYLAND_DISPLAY"):
            return self._no("WAYLAND_DISPLAY is not set, so this is not KWin's Wayland session")
        missing = _kwin_on_bus(session)
        if missing is not None:
            return self._no(missing)
        return self._yes(
            20,
            "KWin on the session bus: windows by a KWin script Jarvis loads, frames by "
            "org.kde.KWin.ScreenShot2 (authorized by `jarvis setup kde`)",
        )

    def create(self) -> Platform:
        from jarvis_platform.kwin import KWinPlatform

        return KWinPlatform()


def is_gnome(session: Session) -> bool:
    """XDG_CURRENT_DESKTOP names GNOME (it is a colon-separated list: "ubuntu:GNOME")."""
    desktops = session.get("XDG_CURRENT_DESKTOP") or session.get("XDG_SESSION_DESKTOP")
    return "gnome" in (d.strip().casefold() for d in desktops.split(":"))


class GnomeBackend(Backend):
    """GNOME Shell on Wayland, through Jarvis's Shell extension and the screen-cast portal."""

    name, kind = "GNOME", "gnome"

    def verdict(self, session: Session) -> Verdict:
        if session.wayland is None:
            return self._no("not a Wayland session")
        if not is_gnome(session):
            return self._no("XDG_CURRENT_DESKTOP does not name GNOME")
        if not session.get("WAYLAND_DISPLAY"):
            return self._no("WAYLAND_DISPLAY is not set: start Jarvis from your GNOME session")
        from jarvis_platform.gnome_session import gnome_readiness

        missing = gnome_readiness(session.get("DBUS_SESSION_BUS_ADDRESS") or "SESSION")
        if missing is not None:
            return self._no(missing)
        return self._yes(
            20,
            "Jarvis's GNOME Shell extension answers on the session bus and GNOME restores "
            f"Jarvis's screen cast without asking ({session.wayland})",
        )

    def create(self) -> Platform:
        from jarvis_platform.gnome import GnomePlatform

        return GnomePlatform()


class MacOSBackend(Backend):
    name, kind = "macOS", "macos"

    def verdict(self, session: Session) -> Verdict:
        if session.system != "darwin":
            return self._no("not macOS")
        return self._yes(10, "Quartz window list, frames by mss")

    def create(self) -> Platform:
        from jarvis_platform.macos import MacOSPlatform

        return MacOSPlatform()


class WindowsBackend(Backend):
    name, kind = "Windows", "windows"

    def verdict(self, session: Session) -> Verdict:
        if session.system != "win32":
            return self._no("not Windows")
        return self._yes(10, "Win32 window list, frames by mss")

    def create(self) -> Platform:
        from jarvis_platform.windows import WindowsPlatform

        return WindowsPlatform()


BACKENDS: tuple[Backend, ...] = (
    SwayBackend(),
    KWinBackend(),
    GnomeBackend(),
    X11Backend(),
    MacOSBackend(),
    WindowsBackend(),
)


class FailPlatform:
    """The platform when none fits: every call raises the refusal (nothing is ever captured)."""

    lists_popups = False

    def __init__(self, message: str) -> None:
        self.message = message

    def _refuse(self) -> UnsupportedSessionError:
        return UnsupportedSessionError(self.message)

    def windows(self) -> list[WindowInfo]:
        raise self._refuse()

    def active_window(self) -> WindowInfo | None:
        raise self._refuse()

    def idle_seconds(self) -> float | None:
        raise self._refuse()

    def is_locked(self) -> bool:
        raise self._refuse()

    def close(self) -> None:
        """Nothing to release."""


class FailBackend(Backend):
    """Chosen when no backend is viable; its message says why and what to do."""

    name, kind = "none", "none"

    def __init__(self, message: str) -> None:
        self.message = message

    def verdict(self, session: Session) -> Verdict:
        return self._no(self.message)

    def create(self) -> Platform:
        return FailPlatform(self.message)


@dataclass(frozen=True, slots=True)
class Choice:
    """The chosen backend and every backend's verdict, best first."""

    backend: Backend
    verdicts: tuple[Verdict, ...]

    @property
    def viable(self) -> bool:
        return not isinstance(self.backend, FailBackend)


def _peer_command(path: str) -> str | None:
    """The program listening on a Unix socket (SO_PEERCRED's pid, /proc/PID/comm), or None."""
    with (
        contextlib.suppress(OSError, AttributeError),
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock,
    ):
        sock.settimeout(0.5)
        sock.connect(path)
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid = struct.unpack("3i", creds)[0]
        return Path(f"/proc/{pid}/comm").read_text().strip() or None
    return None


def wayland_compositor(session: Session) -> str:
    """The compositor's name as the session gives it (XDG_CURRENT_DESKTOP, else the program
    behind WAYLAND_DISPLAY), for messages; "an unknown compositor" when nothing says."""
    desktop = session.get("XDG_CURRENT_DESKTOP") or session.get("XDG_SESSION_DESKTOP")
    if desktop:
        return desktop
    display = session.get("WAYLAND_DISPLAY")
    if display:
        runtime = session.get("XDG_RUNTIME_DIR")
        path = display if display.startswith("/") or not runtime else f"{runtime}/{display}"
        command = _peer_command(path)
        if command:
            return command
    return "an unknown compositor"


def _refusal(session: Session) -> str:
    if not session.unix:
        return (
            f"this operating system ({session.system}) is not supported; Jarvis runs on Linux/BSD "
            "with X11 or sway, on macOS and on Windows"
        )
    if session.wayland is not None:
        compositor = wayland_compositor(session)
        if compositor.casefold() == "sway" and not session.get("SWAYSOCK"):
            return (
                f"this is a sway session ({session.wayland}), but SWAYSOCK is not set, so Jarvis "
                "cannot read sway's window list. Start Jarvis from sway (`exec jarvis run` in "
                "~/.config/sway/config) or set SWAYSOCK to the path `sway --get-socketpath` prints."
            )
        if "kde" in compositor.casefold().split(":"):
            return (
                f"this is a KDE Plasma Wayland session ({session.wayland}), but KWin cannot be "
                f"reached: {_kwin_on_bus(session) or 'KWin answered too late'}. Start Jarvis from "
                "inside Plasma (autostart does this); once it runs there, run `jarvis setup kde` "
                "once so KWin lets it take screenshots."
            )
        if is_gnome(session):
            return GnomeBackend().verdict(session).reason
        return WAYLAND_MESSAGE.format(evidence=session.wayland, compositor=compositor)
    return (
        "no display to capture: DISPLAY is not set. Start Jarvis from inside your X11 desktop "
        "session (autostart does this), not from a plain console or SSH login."
    )


def choose(environ: Mapping[str, str] | None = None, system: str | None = None) -> Choice:
    """Every backend's verdict for this session and the best viable backend (else FailBackend)."""
    session = Session(
        dict(os.environ) if environ is None else environ, sys.platform if system is None else system
    )
    verdicts = [(backend, backend.verdict(session)) for backend in BACKENDS]
    viable = sorted(
        ((b, v) for b, v in verdicts if v.priority is not None),
        key=lambda item: -(item[1].priority or 0),
    )
    ordered = tuple(v for _, v in viable) + tuple(v for _, v in verdicts if not v.viable)
    if viable:
        return Choice(viable[0][0], ordered)
    fail = FailBackend(_refusal(session))
    return Choice(fail, (*ordered, fail.verdict(session)))
