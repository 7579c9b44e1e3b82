"""GNOME (mutter) on Wayland: windows and focus events from Jarvis's Shell extension, frames from
the xdg-desktop-portal's screen cast (in memory, no file), idle time from mutter's idle monitor,
lock from GNOME's screensaver.

GNOME gives programs no window list of its own (Shell's Eval is disabled, and stays so), so Jarvis
ships a small Shell extension (made from gnome_extension/*.in, installed by `jarvis setup
gnome`) that answers on the session bus as local.jarvis.Shell, a name of Jarvis's own: every window
actor bottom to top with its WM class / app id, title, frame rect in stage pixels, pid, focus,
minimized state, and menus and tooltips with the window they belong to (so an excluded window's
menus are blacked out, `lists_popups` stays True); it signals FocusChanged on a change of focus or
of the focused window's title. Each window also carries its process's options and accessible names
(private_facts.py: how Chromium's private windows are told apart).

Fail closed: when the extension, the idle monitor or the screensaver does not answer, the call
raises PlatformError and the tick captures nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from jeepney import DBusAddress, HeaderFields, MatchRule  # type: ignore[import-untyped]
from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]

from jarvis_platform.errors import PlatformError, UnsupportedSessionError
from jarvis_platform.gnome_dbus import (
    DISPLAY_CONFIG,
    EXTENSION,
    IDLE_MONITOR,
    SCREENSAVER,
    Bus,
    DBusCallError,
    ImpostorError,
    shell_extension,
)
from jarvis_platform.gnome_layout import active_from_json, outputs_from_state, windows_from_snapshot
from jarvis_platform.private_facts import PrivateFacts
from jarvis_platform.sway_layout import Output
from jarvis_platform.types import ActiveWindow, FrameSource, WindowInfo
from jarvis_platform.watch_thread import WatchThread

__all__ = ["EXTENSION_MISSING", "GnomePlatform", "GnomeWindowWatch", "display_state"]

log = logging.getLogger(__name__)

EXTENSION_MISSING = (
    "Jarvis's GNOME Shell extension (jarvis@jarvis.local) does not answer on the session bus, so "
    "Jarvis cannot see GNOME's windows and captures nothing. Run `jarvis setup gnome`, then log "
    "out and back in (GNOME loads a new extension at login on Wayland)"
)


class GnomePlatform:
    """The GNOME Shell window system for the capture engine (one instance per thread)."""

    lists_popups = True

    def __init__(self, bus_address: str = "SESSION", token_file: Path | None = None) -> None:
        self._address = bus_address
        self._token_file = token_file
        try:
            self._bus = Bus(bus_address)
        except PlatformError as exc:
            raise UnsupportedSessionError(str(exc)) from exc
        self._extension: DBusAddress | None = None
        self._private = PrivateFacts(by_place=False, bus=bus_address)

    def snapshot(self) -> dict[str, Any]:
        """What the extension reports now (windows, monitors, focus, overview, lock)."""
        try:
            if self._extension is None:
                self._extension = shell_extension(self._bus)
            text = self._bus.call(self._extension, "GetWindows")[0]
        except ImpostorError:
            raise
        except DBusCallError as exc:
            self._extension = None  # GNOME Shell restarted, or the extension was disabled
            raise PlatformError(f"{EXTENSION_MISSING} ({exc})") from exc
        value = json.loads(text)
        if not isinstance(value, dict):
            raise PlatformError("the Jarvis Shell extension sent a bad window list")
        return value

    def outputs(self, snapshot: dict[str, Any]) -> list[Output]:
        """The monitors of `snapshot` in stage coordinates and in frame pixels."""
        return outputs_from_state(snapshot, display_state(self._bus))

    def windows(self) -> list[WindowInfo]:
        snapshot = self.snapshot()
        return self._private.add_kept(
            windows_from_snapshot(snapshot, self.outputs(snapshot)), time.monotonic()
        )

    def active_window(self) -> WindowInfo | None:
        return next((w for w in self.windows() if w.active and not w.popup), None)

    def idle_seconds(self) -> float | None:
        try:
            (milliseconds,) = self._bus.call(IDLE_MONITOR, "GetIdletime")
        except DBusCallError as exc:
            raise PlatformError(
                f"GNOME's idle monitor (org.gnome.Mutter.IdleMonitor) does not answer ({exc}), "
                "so Jarvis cannot tell whether you are away and captures nothing"
            ) from exc
        return int(milliseconds) / 1000.0

    def is_locked(self) -> bool:
        """GNOME's screensaver says so; where GNOME runs none (no logind to lock with), the
        Shell's own session mode and screen shield, through the extension."""
        try:
            (active,) = self._bus.call(SCREENSAVER, "GetActive")
            return bool(active)
        except DBusCallError as exc:
            screensaver_error = exc
        try:
            return bool(self.snapshot()["locked"])
        except (PlatformError, KeyError) as exc:
            raise PlatformError(
                f"neither GNOME's screensaver ({screensaver_error}) nor Jarvis's Shell extension "
                f"({exc}) says whether the screen is locked, so Jarvis captures nothing"
            ) from exc

    def frame_source(self) -> FrameSource:
        from jarvis_platform.gnome_screencast import ScreenCastFrames

        return ScreenCastFrames(self._address, self._token_file)

    def watch_active_window(
        self,
        on_change: Callable[[ActiveWindow], None],
        *,
        on_error: Callable[[PlatformError], None],
    ) -> GnomeWindowWatch:
        return GnomeWindowWatch(self._address, on_change, on_error)

    def close(self) -> None:
        self._private.close()
        self._bus.close()


def display_state(bus: Bus) -> tuple[Any, ...]:
    """mutter's DisplayConfig.GetCurrentState: the layout mode, scales and rotations."""
    try:
        return bus.call(DISPLAY_CONFIG, "GetCurrentState")
    except DBusCallError as exc:
        raise PlatformError(
            f"GNOME's display configuration (org.gnome.Mutter.DisplayConfig) does not answer "
            f"({exc}), so Jarvis cannot tell where windows are on its frames and captures nothing"
        ) from exc


class GnomeWindowWatch(WatchThread):
    """Focus and title changes from the extension's FocusChanged signal, on a thread.

    Blocks in the socket between signals: no CPU while nothing changes.
    """

    def __init__(
        self,
        bus_address: str,
        on_change: Callable[[ActiveWindow], None],
        on_error: Callable[[PlatformError], None],
    ) -> None:
        self._bus = Bus(bus_address)
        # No sender in the rule: signals carry the extension's unique name, which jeepney's
        # local filter would not match against the well-known one; `_run` checks the sender.
        self._rule = MatchRule(
            type="signal",
            interface=EXTENSION.interface,
            member="FocusChanged",
            path=EXTENSION.object_path,
        )
        self._bus.conn.send_and_get_reply(message_bus.AddMatch(self._rule))
        # Filter before asking for the focus, so a change in between is queued, not lost.
        self._filter = self._bus.conn.filter(self._rule, bufsize=64)
        self._queue = self._filter.__enter__()
        try:
            extension = shell_extension(self._bus)
            first = json.loads(self._bus.call(extension, "GetFocus")[0])
        except ImpostorError:
            self._bus.close()
            raise
        except DBusCallError as exc:
            self._bus.close()
            raise PlatformError(f"{EXTENSION_MISSING} ({exc})") from exc
        self._owner = extension.bus_name  # GNOME Shell's unique name
        self._first = active_from_json(first)
        self._start_thread("gnome-window-watch", on_change, on_error)

    def _changes(self) -> Iterator[ActiveWindow]:
        yield self._first
        while True:
            try:
                message = self._bus.conn.recv_until_filtered(self._queue)
            except Exception as exc:
                raise PlatformError(f"lost GNOME Shell's session bus: {exc}") from exc
            if message.header.fields.get(HeaderFields.sender) != self._owner:
                continue  # any client may send a signal with our path: only GNOME Shell counts
            yield active_from_json(json.loads(message.body[0]))

    def _interrupt(self) -> None:
        with contextlib.suppress(OSError):
            self._bus.conn.sock.shutdown(socket.SHUT_RDWR)

    def _release(self) -> None:
        self._filter.__exit__(None, None, None)
        self._bus.close()
