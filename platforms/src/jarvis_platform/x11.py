"""X11 (and only X11) through python-xlib and the window manager's EWMH hints.

Windows come from _NET_CLIENT_LIST_STACKING (bottom to top), titles from _NET_WM_NAME falling back
to WM_NAME (xterm sets only the latter), app names from WM_CLASS's class part, rectangles from the
client's root position grown by _NET_FRAME_EXTENTS (the frame's title bar shows the title too).
Popups (override-redirect children of the root: menus, tooltips, drop-down lists) are listed after
them, with the owner they name in WM_TRANSIENT_FOR, so the policy can black out an excluded
window's menus where they hang outside it.
Each window also carries the facts that tell a private browser window apart: its process's
command-line options (/proc) and the names the accessibility bus gives it (see atspi), both
re-read only when the window is.
Idle time comes from the MIT-SCREEN-SAVER extension; "locked" from the X screensaver state and,
where a session bus or logind answers, their lock flags.

One X connection per instance; use one instance per thread (python-xlib is not thread-safe).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from Xlib import X, Xatom, display
from Xlib.error import CatchError, ConnectionClosedError, DisplayError, XError
from Xlib.ext import damage

from jarvis_platform.errors import PlatformError, UnsupportedSessionError
from jarvis_platform.private_facts import PrivateFacts
from jarvis_platform.screen_lock import SessionLockProbe
from jarvis_platform.types import ActiveWindow, Rect, WindowInfo, WindowWatch
from jarvis_platform.x11_props import Atoms, active_window_id, read_title, text_property
from jarvis_platform.x11_watch import X11ActiveWindowWatch

__all__ = ["X11Platform"]

log = logging.getLogger(__name__)

_SCREENSAVER_ON = 1  # ScreenSaverOn in the MIT-SCREEN-SAVER protocol
FULL_REFRESH_SECONDS = 60.0
# What a lost or confused X connection raises (ConnectionClosedError is no XError).
_X_FAILURES = (XError, DisplayError, ConnectionClosedError, OSError)
_STRUCTURAL_EVENTS = frozenset(
    {
        X.CreateNotify,
        X.DestroyNotify,
        X.MapNotify,
        X.UnmapNotify,
        X.ReparentNotify,
        X.ConfigureNotify,
        X.GravityNotify,
        X.CirculateNotify,
    }
)


class X11Platform:
    """The X11 window system for the capture engine."""

    def __init__(
        self, display_name: str | None = None, *, lock_probe: SessionLockProbe | None = None
    ) -> None:
        name = display_name or os.environ.get("DISPLAY", "")
        if not name:
            raise UnsupportedSessionError(
                "no X display: DISPLAY is not set. Run Jarvis inside your desktop session "
                "(an X11 session, or XWayland with DISPLAY set)."
            )
        self._display_name = name
        try:
            self._display: Any = display.Display(name)
        except (DisplayError, OSError) as exc:
            raise UnsupportedSessionError(
                f"cannot open the X display {name!r} ({exc}). Check that your desktop session is "
                "running and that DISPLAY (and XAUTHORITY) are those of that session."
            ) from exc
        self._root = self._display.screen().root
        self._atom = Atoms(self._display)
        self._has_screensaver = bool(self._display.has_extension("MIT-SCREEN-SAVER"))
        self._lock_probe = lock_probe if lock_probe is not None else SessionLockProbe()
        self._warned_no_ewmh = False
        self._ignore = CatchError()  # errors of watch requests for windows that just went away
        self._cache: dict[int, WindowInfo] = {}
        self._watched: set[int] = set()
        self._dirty: set[int] = set()
        self._ids: list[int] | None = None
        self._active: int | None = None
        self._all_dirty = True
        self._stacking_dirty = self._active_dirty = False
        self._last_full = float("-inf")
        self._override: dict[int, bool] = {}  # root child -> override-redirect (never re-read)
        self._popups: list[WindowInfo] = []
        self._private = PrivateFacts(by_place=True)
        self._root.change_attributes(event_mask=X.PropertyChangeMask | X.SubstructureNotifyMask)
        self._drawn: list[Rect] = []
        self._damage: int | None = None
        self._damage_event = -1
        extension = self._display.query_extension("DAMAGE")
        if extension is not None:
            self._display.damage_query_version()
            # python-xlib registers a copy of the event class, so match the event code instead.
            self._damage_event = int(extension.first_event) + damage.DamageNotifyCode
            # Bounding-box reports: one event whenever the damaged area grows; subtracting the
            # damage after reading the events re-arms it (see `damaged`).
            self._damage = self._root.damage_create(damage.DamageReportBoundingBox)

    # -- helpers ----------------------------------------------------------------------------

    def _cardinals(self, window: Any, name: str, kind: int = Xatom.CARDINAL) -> list[int]:
        prop = window.get_full_property(self._atom(name), kind)
        return [int(v) for v in prop.value] if prop is not None else []

    def _stacking(self) -> list[int]:
        ids = self._cardinals(self._root, "_NET_CLIENT_LIST_STACKING", Xatom.WINDOW)
        if ids:
            return ids
        ids = self._cardinals(self._root, "_NET_CLIENT_LIST", Xatom.WINDOW)
        if ids:
            return ids
        if not self._warned_no_ewmh:
            # Without an EWMH window manager there is no client list: fall back to the root's
            # mapped children (the X stacking order, bottom to top), which is what is on screen.
            log.warning("the window manager publishes no _NET_CLIENT_LIST; using the X tree")
            self._warned_no_ewmh = True
        return [int(child.id) for child in self._root.query_tree().children]

    def _active_id(self) -> int | None:
        return active_window_id(self._root, self._atom)

    def _title(self, window: Any) -> str | None:
        return read_title(window, self._atom)

    def _describe(self, wid: int, *, popup: bool = False) -> WindowInfo | None:
        """A client window (or, with `popup`, an override-redirect one) as the policy sees it.

        None when the window went away while it was read, and for a popup that is not mapped
        (toolkits keep many unmapped ones; they are never drawn). `stacking` and `active` are
        set by `windows`, which knows the order.
        """
        window = self._display.create_resource_object("window", wid)
        try:
            attributes = window.get_attributes()
            if popup and attributes.map_state != X.IsViewable:
                return None
            geometry = window.get_geometry()
            origin = self._root.translate_coords(window, 0, 0)
            wm_class = window.get_wm_class()
            title = self._title(window)
            pids = self._cardinals(window, "_NET_WM_PID")
            extents = self._cardinals(window, "_NET_FRAME_EXTENTS")
            states = set(self._cardinals(window, "_NET_WM_STATE", Xatom.ATOM))
            owner = window.get_wm_transient_for() if popup else None
        except XError:
            return None
        left, right, top, bottom = extents if len(extents) == 4 else (0, 0, 0, 0)
        border = int(geometry.border_width)  # drawn too; 0 for framed clients
        rect = Rect(
            int(origin.x) - border - left,
            int(origin.y) - border - top,
            int(geometry.width) + 2 * border + left + right,
            int(geometry.height) + 2 * border + top + bottom,
        )
        hidden = (
            attributes.map_state != X.IsViewable or self._atom("_NET_WM_STATE_HIDDEN") in states
        )
        return WindowInfo(
            id=wid,
            app_name=text_property(wm_class[1]) if wm_class else None,
            title=title,
            rect=rect,
            pid=pids[0] if pids else None,
            hidden=hidden,
            popup=popup,
            owner=int(owner.id) if owner else None,
        )

    def _read_popups(self, managed: set[int]) -> list[WindowInfo]:
        """Mapped override-redirect children of the root, bottom to top.

        Whether a child is override-redirect is read once per window (CreateNotify says so for
        windows made later), so a refresh costs one QueryTree plus the popups' own reads.
        """
        children = [int(child.id) for child in self._root.query_tree().children]
        alive = set(children)
        self._override = {wid: flag for wid, flag in self._override.items() if wid in alive}
        for wid in children:
            if wid not in self._override:
                window = self._display.create_resource_object("window", wid)
                try:
                    self._override[wid] = bool(window.get_attributes().override_redirect)
                except XError:
                    self._override[wid] = False  # gone already
        popups = []
        for wid in children:
            if self._override[wid] and wid not in managed:
                info = self._describe(wid, popup=True)
                if info is not None:
                    popups.append(info)
        return popups

    # -- the event-driven window cache -------------------------------------------------------
    #
    # Reading every property of every window costs ~9 round trips per window per read, and the
    # pipeline reads twice per frame. Instead each client window is watched (PropertyChange and
    # StructureNotify) and re-read only when the X server says it changed. Freshness is kept by a
    # round trip before each use: the server sends every event caused by requests it handled
    # earlier before the reply, so once sync() returns and the queue is drained, the cache is as
    # fresh as a full read would be. Windows are watched *before* they are read, so no change can
    # fall between the read and the watch. Anything structural (a move, map, restack) simply
    # invalidates everything; a full re-read also happens every FULL_REFRESH_SECONDS regardless.

    def _watch(self, wid: int) -> None:
        window = self._display.create_resource_object("window", wid)
        window.change_attributes(
            event_mask=X.PropertyChangeMask | X.StructureNotifyMask, onerror=self._ignore
        )

    def _pump(self) -> None:
        self._display.sync()
        while self._display.pending_events():
            event = self._display.next_event()
            if event.type == self._damage_event:
                area = event.area
                self._drawn.append(Rect(area.x, area.y, area.width, area.height))
            elif event.type == X.PropertyNotify:
                wid = int(event.window.id)
                if wid == int(self._root.id):
                    if event.atom == self._atom("_NET_ACTIVE_WINDOW"):
                        self._active_dirty = True
                    else:
                        self._stacking_dirty = True
                elif wid in self._cache:
                    self._dirty.add(wid)
            elif event.type in _STRUCTURAL_EVENTS:
                self._all_dirty = True
                if event.type == X.CreateNotify and int(event.parent.id) == int(self._root.id):
                    self._override[int(event.window.id)] = bool(event.override)
                elif event.type == X.DestroyNotify:
                    self._override.pop(int(event.window.id), None)  # ids are reused

    def _refresh(self) -> tuple[list[int], int | None]:
        self._pump()
        now = time.monotonic()
        if now - self._last_full >= FULL_REFRESH_SECONDS:
            self._all_dirty = True
        if self._all_dirty or self._stacking_dirty or self._ids is None:
            self._ids = self._stacking()
        if self._all_dirty or self._active_dirty or self._stacking_dirty:
            self._active = self._active_id()
        popups_dirty = self._all_dirty
        if self._all_dirty:
            self._cache.clear()
            self._private.forget()  # a new process may have reused a pid
            self._last_full = now
        described: list[int] = []
        for wid in self._ids:
            if wid in self._cache and wid not in self._dirty:
                continue
            if wid not in self._watched:
                self._watch(wid)
                self._watched.add(wid)
            info = self._describe(wid)
            if info is None:
                self._cache.pop(wid, None)
            else:
                self._cache[wid] = info
                described.append(wid)
        if described:
            self._add_private_facts(described, now)
        alive = set(self._ids)
        for gone in set(self._cache) - alive:
            del self._cache[gone]
        self._watched &= alive
        if popups_dirty:
            # Every map, unmap, move or restack of a root child (popups too) sets _all_dirty.
            self._popups = self._read_popups(alive)
        self._dirty.clear()
        self._all_dirty = self._stacking_dirty = self._active_dirty = False
        return self._ids, self._active

    def _add_private_facts(self, wids: list[int], now: float) -> None:
        """Process options and accessible names of these (just re-read) windows."""
        for info in self._private.add([self._cache[wid] for wid in wids], now):
            self._cache[info.id] = info

    # -- Platform ---------------------------------------------------------------------------

    def windows(self) -> list[WindowInfo]:
        try:
            ids, active_id = self._refresh()
        except _X_FAILURES as exc:
            self._all_dirty = True
            raise PlatformError(f"could not read the window list from the X server: {exc}") from exc
        managed = [
            replace(self._cache[wid], stacking=n, active=wid == active_id)
            for n, wid in enumerate(ids)
            if wid in self._cache
        ]
        return managed + [
            replace(popup, stacking=len(ids) + n) for n, popup in enumerate(self._popups)
        ]

    def active_window(self) -> WindowInfo | None:
        return next((window for window in self.windows() if window.active), None)

    def damaged(self) -> list[Rect] | None:
        """Screen areas drawn since the previous call (root coordinates), or None if unknown.

        From the X DAMAGE extension: a still screen costs one round trip instead of a grab.
        Anything drawn after the events were read either lies inside an area already reported
        or grows the damage and sends a new event, so subtracting afterwards loses nothing.
        """
        if self._damage is None:
            return None
        try:
            self._pump()
            drawn, self._drawn = self._drawn, []
            self._display.damage_subtract(self._damage, X.NONE, X.NONE)
            self._display.flush()
        except _X_FAILURES as exc:
            raise PlatformError(f"could not read screen updates from the X server: {exc}") from exc
        return drawn

    def _screensaver(self) -> Any | None:
        if not self._has_screensaver:
            return None
        try:
            return self._root.screensaver_query_info()
        except _X_FAILURES:
            return None

    def idle_seconds(self) -> float | None:
        info = self._screensaver()
        return None if info is None else int(info.idle) / 1000.0

    def is_locked(self) -> bool:
        info = self._screensaver()
        if info is not None and int(info.state) == _SCREENSAVER_ON:
            return True
        return self._lock_probe.locked(time.monotonic())

    def watch_active_window(
        self,
        on_change: Callable[[ActiveWindow], None],
        *,
        on_error: Callable[[PlatformError], None],
    ) -> WindowWatch | None:
        """Report focus and title changes as X sends them (see x11_watch); never None on X11.

        The watch has its own connection and thread: it outlives this instance's close().
        """

        watch = X11ActiveWindowWatch(self._display_name, on_change, on_error=on_error)
        watch.start()
        return watch

    def close(self) -> None:
        self._private.close()
        with contextlib.suppress(*_X_FAILURES):
            self._display.close()
