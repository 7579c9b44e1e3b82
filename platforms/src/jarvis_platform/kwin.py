"""KDE Plasma (KWin, Wayland): windows from a KWin script Jarvis loads, frames by ScreenShot2.

Windows: a resident KWin script, loaded once over org.kde.kwin.Scripting (kwin_report.py),
reports every managed window (caption, resourceClass, frameGeometry, pid, active, minimized,
popups with the window they belong to, stacking order) to this connection's unique bus name
each time `windows()` asks (kwin_script.py, kwin_bus.py): a list read from KWin then, so the
re-read after the grab sees what is on screen then. Geometry is logical; the outputs' scales and
places come from Wayland (kwin_outputs.py) and windows are given in frame pixels (kwin_layout.py).
Native Wayland popups and menus are in that list, so an excluded window's menus are blacked out
with it. X11 menus of Xwayland apps (override-redirect
windows) are not: while an Xwayland window has the focus, `lists_popups` is False and the policy
skips frames while an excluded one is focused, as on sway.

Each window also carries its process's options and accessible names (private_facts.py: how
Chromium's private windows are told apart).

Focus and title changes: a resident script pushes (id, caption) on every activation and caption
change of the active window (KWinWindowWatch); blocked in the socket between events.

Idle time: KWin's org_kde_kwin_idle protocol, as on sway (wlr_idle.py). Lock: KWin's own
org.freedesktop.ScreenSaver (its screen locker) and logind; when no source can say, the platform
refuses the tick (fail closed) rather than capture a screen that may be locked.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from jeepney import DBusAddress  # type: ignore[import-untyped]  # jeepney ships no type hints

from jarvis_platform.compositor_idle import CompositorIdle
from jarvis_platform.errors import PlatformError, UnsupportedSessionError
from jarvis_platform.kwin_bus import KWinBus
from jarvis_platform.kwin_layout import window_id, windows_from_report
from jarvis_platform.kwin_outputs import WaylandOutputs
from jarvis_platform.kwin_report import ResidentReport
from jarvis_platform.kwin_script import WATCH_PATH, watch_script
from jarvis_platform.private_facts import PrivateFacts
from jarvis_platform.screen_lock import SessionLockProbe
from jarvis_platform.sway_layout import layout_outputs
from jarvis_platform.types import ActiveWindow, FrameSource, WindowInfo
from jarvis_platform.watch_thread import WatchThread

__all__ = ["KWinPlatform", "KWinWindowWatch"]

log = logging.getLogger(__name__)

_DBUS = DBusAddress(
    "/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus"
)

LOCK_UNKNOWN = (
    "cannot tell whether the screen is locked: neither KWin's screen locker "
    "(org.freedesktop.ScreenSaver) nor logind answers, so Jarvis captures nothing. Start Jarvis "
    "inside your Plasma session (with its screen locker enabled)."
)


def wayland_path() -> str:
    """KWin's Wayland socket, from this session's environment."""
    display = os.environ.get("WAYLAND_DISPLAY", "").strip()
    if not display:
        raise UnsupportedSessionError("WAYLAND_DISPLAY is not set: start Jarvis from Plasma")
    if display.startswith("/"):
        return display
    return str(Path(os.environ.get("XDG_RUNTIME_DIR", "")) / display)


class KWinPlatform:
    """The KWin window system for the capture engine (one instance per thread)."""

    def __init__(
        self,
        wayland_display: str | None = None,
        *,
        bus_address: str | None = None,
        lock_probe: SessionLockProbe | None = None,
    ) -> None:
        self._wayland = wayland_display or wayland_path()
        self._address = bus_address
        self._bus = KWinBus(address=bus_address)
        try:
            self._bus.kwin_owner()
        except BaseException:
            self._bus.close()
            raise
        self._reports = ResidentReport(self._bus)
        self._outputs: WaylandOutputs | None = None
        self._lock_probe = lock_probe if lock_probe is not None else SessionLockProbe()
        self._idle = CompositorIdle(self._wayland)
        self._focused_x11 = False
        self._private = PrivateFacts(by_place=False, bus=bus_address or "SESSION")

    def report(self) -> dict[str, Any]:
        """KWin's window report (the script's JSON), fresh."""
        text = self._reports.report()
        try:
            report = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise PlatformError(f"KWin's window report is not JSON ({exc})") from exc
        if not isinstance(report, dict):
            raise PlatformError("KWin's window report is not an object")
        return report

    def windows(self) -> list[WindowInfo]:
        report = self.report()
        if self._outputs is None:
            self._outputs = WaylandOutputs(self._wayland)
        found = windows_from_report(report, layout_outputs(self._outputs.read()))
        self._focused_x11 = any(
            bool(w.get("x11")) and bool(w.get("active")) for w in report.get("windows", [])
        )
        return self._private.add_kept(found, time.monotonic())

    @property
    def lists_popups(self) -> bool:
        """False while an Xwayland window has the focus: its X11 menus are not in the list."""
        return not self._focused_x11

    def active_window(self) -> WindowInfo | None:
        return next((w for w in self.windows() if w.active and not w.popup), None)

    def idle_seconds(self) -> float | None:
        return self._idle.seconds()

    def is_locked(self) -> bool:
        locked = self._lock_probe.answer(time.monotonic())
        if locked is None:
            raise PlatformError(LOCK_UNKNOWN)
        return locked

    def frame_source(self) -> FrameSource:
        from jarvis_platform.kwin_shot import KWinFrames

        return KWinFrames(self._address, wayland_display=self._wayland)

    def watch_active_window(
        self,
        on_change: Callable[[ActiveWindow], None],
        *,
        on_error: Callable[[PlatformError], None],
    ) -> KWinWindowWatch:
        return KWinWindowWatch(on_change, on_error, self._address)

    def close(self) -> None:
        self._idle.close()
        if self._outputs is not None:
            self._outputs.close()
            self._outputs = None
        self._private.close()
        self._reports.close()
        self._bus.close()


class KWinWindowWatch(WatchThread):
    """Focus and title changes pushed by a resident KWin script, read on a thread."""

    def __init__(
        self,
        on_change: Callable[[ActiveWindow], None],
        on_error: Callable[[PlatformError], None],
        bus_address: str | None = None,
    ) -> None:
        from jeepney import MatchRule

        self._address = bus_address
        self._bus = KWinBus(address=bus_address)
        try:
            self._owner = self._bus.kwin_owner()
            # KWin leaving the bus ends the watch (the socket stays open: the bus is not KWin's).
            rule = MatchRule(
                type="signal", interface="org.freedesktop.DBus", member="NameOwnerChanged"
            )
            rule.add_arg_condition(0, "org.kde.KWin")
            self._bus.call(_DBUS, "AddMatch", "s", (rule.serialise(),))
            # Every message is queued from here on: the script's first call comes while
            # `load` still waits for KWin's reply to `run`.
            self._queue: deque[Any] = deque(maxlen=256)
            self._filter = self._bus.conn.filter(MatchRule(), queue=self._queue)
            self._plugin = self._bus.plugin_name("watch")
            self._bus.load(watch_script(self._bus.name), self._plugin)
        except BaseException:
            self._bus.close()
            raise
        self._start_thread("kwin-window-watch", on_change, on_error)

    def _changes(self) -> Iterator[ActiveWindow]:
        from jeepney import HeaderFields, MessageType

        while True:
            try:
                message = self._bus.conn.recv_until_filtered(self._queue)
            except (OSError, ValueError, EOFError) as exc:
                raise PlatformError(f"lost the D-Bus connection to KWin ({exc})") from exc
            kind = message.header.message_type
            fields = message.header.fields
            if kind is MessageType.signal:
                if fields.get(HeaderFields.member) == "NameOwnerChanged":
                    raise PlatformError("KWin left the session bus (did it exit?)")
                continue
            if kind is not MessageType.method_call or fields.get(HeaderFields.path) != WATCH_PATH:
                continue
            if not self._bus.accept(message, self._owner):
                continue
            uuid_text, caption = (str(v) for v in message.body[:2])
            yield ActiveWindow(window_id(uuid_text) if uuid_text else None, caption or None)

    def _interrupt(self) -> None:
        with contextlib.suppress(PlatformError, UnsupportedSessionError):
            unloader = KWinBus(address=self._address)
            try:
                unloader.unload(self._plugin)
            finally:
                unloader.close()
        self._bus.shutdown()

    def _release(self) -> None:
        self._bus.close()
