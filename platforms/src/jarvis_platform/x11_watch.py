"""Active-window changes on X11 as events, on an X connection and a thread of their own.

The watch selects PropertyChangeMask on the root window (the window manager rewrites
_NET_ACTIVE_WINDOW on every focus change) and on the active window itself (its _NET_WM_NAME or
WM_NAME changes when it is retitled, as a browser's does on navigation); that selection moves to
the new window whenever the focus moves. The thread sleeps in select() on the X socket and a
wake-up pipe, so it costs nothing while nothing changes and stop() is immediate.

python-xlib is not thread-safe, so this connection is the watch thread's alone: the constructor
opens it before the thread starts and the thread closes it when it ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from collections.abc import Callable
from typing import Any

from Xlib import X, Xatom, display
from Xlib.error import CatchError, ConnectionClosedError, DisplayError, XError

from jarvis_platform.errors import PlatformError
from jarvis_platform.types import ActiveWindow
from jarvis_platform.x11_props import Atoms, active_window_id, read_title

__all__ = ["X11ActiveWindowWatch"]

log = logging.getLogger(__name__)

_X_FAILURES = (XError, DisplayError, ConnectionClosedError, OSError)
# Seconds; the thread wakes at once, this only bounds a wedged X library. The thread is a daemon:
# one left behind cannot keep the agent from exiting, so a short wait is enough.
_STOP_TIMEOUT = 1.0


class X11ActiveWindowWatch:
    """Calls `on_change(ActiveWindow)` on its own thread whenever the focus or its title changes.

    The first call reports the window that was active when the watch was created. If the X
    connection is lost, `on_error(PlatformError)` is called once and the thread ends.
    """

    def __init__(
        self,
        display_name: str,
        on_change: Callable[[ActiveWindow], None],
        *,
        on_error: Callable[[PlatformError], None],
    ) -> None:
        self._name = display_name
        self._on_change = on_change
        self._on_error = on_error
        try:
            self._display: Any = display.Display(display_name)
        except (DisplayError, OSError) as exc:
            raise PlatformError(
                f"cannot open the X display {display_name!r} to watch the active window ({exc}); "
                "check that the desktop session is still running"
            ) from exc
        self._root = self._display.screen().root
        self._atom = Atoms(self._display)
        # Errors of requests about a window that just went away (BadWindow) land here, unraised.
        self._ignore = CatchError()
        self._watched: int | None = None
        self._current: ActiveWindow | None = None
        self._stopping = threading.Event()
        self._wake_read, self._wake_write = os.pipe()
        self._pipe_lock = threading.Lock()  # no write to a closed (maybe reused) descriptor
        self._thread = threading.Thread(
            target=self._run, name="jarvis-x11-window-watch", daemon=True
        )
        try:
            self._root.change_attributes(event_mask=X.PropertyChangeMask)
            # Read before start() returns, so any change after this call is a change reported.
            self._initial = self._follow_focus()
        except _X_FAILURES as exc:
            self._release()
            raise PlatformError(
                f"cannot watch the active window on the X display {display_name!r} ({exc})"
            ) from exc

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread and wait for it (unless called from it); safe to call more than once."""
        self._stopping.set()
        if not self._thread.is_alive():
            if self._thread.ident is None:  # never started: nobody else will release
                self._release()
            return
        with self._pipe_lock, contextlib.suppress(OSError):
            if self._wake_write >= 0:
                os.write(self._wake_write, b"\0")
        if threading.current_thread() is not self._thread:
            self._thread.join(_STOP_TIMEOUT)
            if self._thread.is_alive():
                log.warning("the active-window watch did not stop within %.0f s", _STOP_TIMEOUT)

    # -- the watch thread -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._report(self._initial)
            fd = self._display.fileno()
            while not self._stopping.is_set():
                # Replies to our own reads can bring events along; drain before sleeping.
                while not self._stopping.is_set() and self._display.pending_events():
                    self._handle(self._display.next_event())
                if self._stopping.is_set():
                    break
                select.select([fd, self._wake_read], [], [])
        except _X_FAILURES as exc:
            if not self._stopping.is_set():
                self._lost(exc)
        finally:
            self._release()

    def _lost(self, exc: BaseException) -> None:
        error = PlatformError(
            f"lost the connection to the X server {self._name!r} ({type(exc).__name__}: {exc}); "
            "the active window is no longer watched until it is back"
        )
        log.warning("%s", error)
        try:
            self._on_error(error)
        except Exception:
            log.exception("the active-window watch's error callback failed")

    def _handle(self, event: Any) -> None:
        if event.type != X.PropertyNotify:
            return
        wid = int(event.window.id)
        if wid == int(self._root.id):
            if event.atom == self._atom("_NET_ACTIVE_WINDOW"):
                self._report(self._follow_focus())
        elif wid == self._watched and event.atom in (self._atom("_NET_WM_NAME"), Xatom.WM_NAME):
            self._report(ActiveWindow(wid, self._title(wid)))

    def _follow_focus(self) -> ActiveWindow:
        """Move the title watch to the window that has the focus now; return it with its title."""
        active = self._active_id()
        if active != self._watched:
            if self._watched is not None:
                self._window(self._watched).change_attributes(
                    event_mask=X.NoEventMask, onerror=self._ignore
                )
            if active is not None:
                # Selected before the title is read, so a retitle right now is not missed.
                self._window(active).change_attributes(
                    event_mask=X.PropertyChangeMask, onerror=self._ignore
                )
            self._watched = active
        return ActiveWindow(active, self._title(active))

    def _report(self, state: ActiveWindow) -> None:
        if state == self._current:
            return
        self._current = state
        try:
            self._on_change(state)
        except Exception:  # the caller's bug must not end the watch
            log.exception("the active-window callback failed")

    # -- X helpers --------------------------------------------------------------------------

    def _window(self, wid: int) -> Any:
        return self._display.create_resource_object("window", wid)

    def _active_id(self) -> int | None:
        return active_window_id(self._root, self._atom)

    def _title(self, wid: int | None) -> str | None:
        if wid is None:
            return None
        try:
            return read_title(self._window(wid), self._atom)
        except XError:  # BadWindow: it closed while focused; the next focus change follows
            return None

    def _release(self) -> None:
        with contextlib.suppress(*_X_FAILURES):
            self._display.close()
        with self._pipe_lock:
            for fd in (self._wake_read, self._wake_write):
                with contextlib.suppress(OSError):
                    os.close(fd)
            self._wake_read = self._wake_write = -1
