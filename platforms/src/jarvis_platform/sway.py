"""sway (wlroots): windows, focus and title events through sway's IPC, frames by wlr-screencopy.

Windows come from GET_TREE (app_id, or the X11 class for Xwayland windows; name; rect with the
title bar; pid; focused), converted to each output's buffer pixels (sway_layout.py). The window
list has no popups or menus (xdg_popups and Xwayland override-redirect windows are not in the
tree): `lists_popups = False` makes the policy skip frames while an excluded window is focused.

Idle time: sway's IPC has no idle query; it comes from the compositor's org_kde_kwin_idle
notifications on a Wayland connection of its own (wlr_idle.py: exact from one second on, input
before Jarvis connected unknown). A compositor without that protocol gives None (unknown), so the
idle gate does not apply there. Lock: logind's LockedHint and the desktop screensavers on
D-Bus (lock.py), and a running swaylock of the compositor's user.

Each window also carries its process's options and accessible names (private_facts.py: how
Chromium's private windows are told apart).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from jarvis_platform.compositor_idle import CompositorIdle
from jarvis_platform.errors import PlatformError, UnsupportedSessionError
from jarvis_platform.private_facts import PrivateFacts
from jarvis_platform.screen_lock import SessionLockProbe
from jarvis_platform.sway_ipc import GET_OUTPUTS, GET_TREE, SwayIPC
from jarvis_platform.sway_layout import layout_outputs, windows_from_tree
from jarvis_platform.types import ActiveWindow, FrameSource, WindowInfo
from jarvis_platform.watch_thread import WatchThread

__all__ = ["SwayPlatform", "SwayWindowWatch"]

log = logging.getLogger(__name__)

_LOCKERS = frozenset({"swaylock", "gtklock", "waylock"})


def _socket_path(environ_name: str) -> str:
    value = os.environ.get(environ_name, "").strip()
    if not value:
        raise UnsupportedSessionError(f"{environ_name} is not set: start Jarvis from sway")
    return value


def _wayland_path() -> str:
    display = _socket_path("WAYLAND_DISPLAY")
    if display.startswith("/"):
        return display
    return str(Path(os.environ.get("XDG_RUNTIME_DIR", "")) / display)


class SwayPlatform:
    """The sway window system for the capture engine (one instance per thread)."""

    lists_popups = False

    def __init__(
        self,
        ipc_path: str | None = None,
        wayland_display: str | None = None,
        *,
        lock_probe: SessionLockProbe | None = None,
    ) -> None:
        self._ipc_path = ipc_path or _socket_path("SWAYSOCK")
        self._wayland = wayland_display or _wayland_path()
        try:
            self._ipc = SwayIPC(self._ipc_path)
        except PlatformError as exc:
            raise UnsupportedSessionError(str(exc)) from exc
        self._sway_uid = self._ipc.peer()[1]
        self._lock_probe = lock_probe if lock_probe is not None else SessionLockProbe()
        self._idle = CompositorIdle(self._wayland)
        self._private = PrivateFacts(by_place=False)

    def _tree_and_outputs(self) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        return self._ipc.request(GET_TREE), self._ipc.request(GET_OUTPUTS)

    def windows(self) -> list[WindowInfo]:
        tree, outputs = self._tree_and_outputs()
        found = windows_from_tree(tree, layout_outputs(outputs))
        return self._private.add_kept(found, time.monotonic())

    def active_window(self) -> WindowInfo | None:
        return next((w for w in self.windows() if w.active), None)

    def idle_seconds(self) -> float | None:
        return self._idle.seconds()

    def is_locked(self) -> bool:
        return self._locker_running() or self._lock_probe.locked(time.monotonic())

    def _locker_running(self) -> bool:
        """A screen locker (swaylock) of the compositor's user is running."""
        # The owner first (one stat), the name only of the user's own processes: a busy machine
        # has hundreds of processes and this runs on every tick (see benchmarks/sway_lock.py).
        with os.scandir("/proc") as entries:
            for entry in entries:
                if not entry.name.isdigit():
                    continue
                with contextlib.suppress(OSError):
                    if entry.stat().st_uid != self._sway_uid:
                        continue
                    with open(f"/proc/{entry.name}/comm", encoding="utf-8") as comm:
                        if comm.read().strip() in _LOCKERS:
                            return True
        return False

    def frame_source(self) -> FrameSource:
        from jarvis_platform.wlr_screencopy import ScreencopyFrames

        return ScreencopyFrames(self._wayland, self._ipc_path)

    def watch_active_window(
        self,
        on_change: Callable[[ActiveWindow], None],
        *,
        on_error: Callable[[PlatformError], None],
    ) -> SwayWindowWatch:
        return SwayWindowWatch(self._ipc_path, on_change, on_error)

    def close(self) -> None:
        self._idle.close()
        self._private.close()
        self._ipc.close()


def _focused(tree: dict[str, Any]) -> ActiveWindow:
    stack = [tree]
    while stack:
        node = stack.pop()
        if node.get("focused") and node.get("type") in ("con", "floating_con"):
            return ActiveWindow(int(node["id"]), node.get("name") or None)
        stack.extend(node.get("nodes", []))
        stack.extend(node.get("floating_nodes", []))
    return ActiveWindow(None, None)


class SwayWindowWatch(WatchThread):
    """Focus and title changes from sway's `window` and `workspace` events, on a thread.

    Blocks in the socket between events: no CPU while nothing changes.
    """

    def __init__(
        self,
        ipc_path: str,
        on_change: Callable[[ActiveWindow], None],
        on_error: Callable[[PlatformError], None],
    ) -> None:
        self._events = SwayIPC(ipc_path, timeout=None)
        self._query = SwayIPC(ipc_path)
        self._events.subscribe(["window", "workspace"])
        self._start_thread("sway-window-watch", on_change, on_error)

    def _changes(self) -> Iterator[ActiveWindow]:
        while True:
            yield _focused(self._query.request(GET_TREE))
            self._events.receive()  # wait for the next window or workspace event

    def _interrupt(self) -> None:
        self._events.shutdown()

    def _release(self) -> None:
        self._events.close()
        self._query.close()
