"""The window-change trigger: a capture shortly after the active window changes.

It follows the platform's active-window events where it has them (X11: a watch thread with its own
X connection, which only notes the change and asks the scheduler for a "window-change" job) and
otherwise polls on the worker once a second. A lost connection of that watch fails like any
platform error (state "error"), and the watch is re-opened with a growing delay until the window
system is back. Everything here runs on the scheduler's worker, except where noted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from jarvis_agent.config import CaptureSettings
from jarvis_agent.runtime.platform_slot import PlatformSlot
from jarvis_agent.runtime.scheduler import CaptureScheduler, WindowChangeGate, WindowWatcher
from jarvis_agent.runtime.tick import WINDOW_CHANGE
from jarvis_platform import ActiveWindow, ActiveWindowEvents, PlatformError, WindowWatch

__all__ = ["WindowTrigger"]

log = logging.getLogger("jarvis.service")

_WINDOW_CHANGE_JOB = "window-change"
_REWATCH_JOB = "window-rewatch"
# A window-change capture waits this long after the change: the window manager's focus hand-over
# (two _NET_ACTIVE_WINDOW changes) and the new window's repaint are over by then.
_WINDOW_SETTLE = 0.25
_REWATCH_FIRST, _REWATCH_MAX = 1.0, 60.0  # seconds between attempts to re-open a lost watch


class WindowTrigger:
    """Follows the active window for one run of the scheduler, as the capture settings say."""

    def __init__(
        self,
        scheduler: CaptureScheduler,
        slot: PlatformSlot,
        *,
        settings: Callable[[], CaptureSettings],
        running: Callable[[], bool],
        tick: Callable[[str], object],
        fail: Callable[[str], object],
    ) -> None:
        """`tick(reason)` captures now (on the worker); `fail(message)` records a lost window
        system and has the platform re-opened."""
        self._scheduler: CaptureScheduler | None = scheduler
        self._slot = slot
        self._settings = settings
        self._running = running
        self._tick = tick
        self._fail = fail
        self._gate: WindowChangeGate | None = None
        self._watcher: WindowWatcher | None = None  # the poll, where there are no window events
        self._watch: WindowWatch | None = None
        self._generation = 0
        self._rewatch_delay = 0.0

    def sync(self) -> None:
        """Start or stop following the active window to match the settings (and re-open it)."""
        scheduler = self._scheduler
        if scheduler is None:
            return
        capture = self._settings()
        if not (self._running() and capture.window_change_trigger):
            self._turn_off()
            return
        if self._gate is None:
            self._gate = WindowChangeGate(
                min_gap=capture.window_change_min_gap_seconds, settle=_WINDOW_SETTLE
            )
        watch = self._watch
        if (watch is not None and watch.alive) or scheduler.polling:
            return
        self._generation += 1
        generation = self._generation
        try:
            platform = self._slot.platform()
            watch = (
                platform.watch_active_window(
                    self._seen,
                    on_error=lambda error: self._lost(generation, error),
                )
                if isinstance(platform, ActiveWindowEvents)
                else None
            )
        except PlatformError as exc:
            self._fail(f"the window system: {exc}")
            self._retry()
            return
        if watch is None:
            self._gate.settle = 0.0  # a poll a second apart is settle enough
            scheduler.poll(self._poll, seconds=1.0)
            self._poll()  # learn the window now: a change within the first second counts
            log.info("window-change trigger on: polling the active window once a second")
        else:
            self._watch = watch
            log.info("window-change trigger on: following active-window events")

    def set_min_gap(self, seconds: float) -> None:
        """Use a new shortest gap between window-change captures (any thread)."""
        gate, scheduler = self._gate, self._scheduler
        if gate is not None and gate.min_gap != seconds:
            gate.min_gap = seconds
            if scheduler is not None:  # a change waiting out the old gap gets the new one
                scheduler.run_later(_WINDOW_CHANGE_JOB, 0, self._due)

    def note_capture(self, started: float) -> None:
        """A capture started at `started` (monotonic): it shows any change seen before it."""
        gate = self._gate
        if gate is not None:
            gate.note_capture(started)

    def close(self) -> None:
        """The scheduler has stopped: stop the watch; nothing is scheduled from here on."""
        self._scheduler = None
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.stop()
        self._gate = self._watcher = None

    def _turn_off(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.stop()
            log.info("window-change trigger off")
        scheduler = self._scheduler
        if scheduler is not None:
            scheduler.stop_poll()
            scheduler.cancel(_WINDOW_CHANGE_JOB)
            scheduler.cancel(_REWATCH_JOB)
        # Turned on again later, the trigger learns the window anew instead of firing for it.
        self._gate = self._watcher = None
        self._rewatch_delay = 0.0

    def _seen(self, window: ActiveWindow) -> None:
        """The active window is now `window` (called on the watch thread: only schedules)."""
        gate, scheduler = self._gate, self._scheduler
        if gate is None or scheduler is None:
            return
        wait = gate.observe(window)
        if wait is not None:
            scheduler.run_later(_WINDOW_CHANGE_JOB, wait, self._due)

    def _due(self) -> None:
        gate, scheduler = self._gate, self._scheduler
        if gate is None or scheduler is None or not self._settings().window_change_trigger:
            return
        wait = gate.take()
        if wait is None:
            return  # a capture in between already showed the change
        if wait > 0:
            scheduler.run_later(_WINDOW_CHANGE_JOB, wait, self._due)
            return
        # Paused (or locked, idle...): the tick records a skip and captures nothing.
        self._tick(WINDOW_CHANGE)

    def _poll(self) -> None:
        """Once a second on platforms without active-window events."""
        gate = self._gate
        if gate is None:
            return
        try:
            if self._watcher is None:
                platform = self._slot.platform()

                def probe() -> ActiveWindow:
                    window = platform.active_window()
                    return (
                        ActiveWindow(None, None)
                        if window is None
                        else ActiveWindow(window.id, window.title)
                    )

                self._watcher = WindowWatcher(probe, gate=gate)
            changed = self._watcher.changed()
        except PlatformError as exc:
            self._watcher = None
            self._fail(f"the window system: {exc}")
            return
        if changed:
            self._tick(WINDOW_CHANGE)

    def _lost(self, generation: int, error: PlatformError) -> None:
        """The watch's connection is gone (called on the watch thread, as it ends)."""
        scheduler = self._scheduler
        if scheduler is not None:
            scheduler.run_soon(self._failed, generation, error)

    def _failed(self, generation: int, error: PlatformError) -> None:
        if generation != self._generation:
            return  # an older watch, already replaced
        watch, self._watch = self._watch, None
        if watch is not None:
            watch.stop()
        self._fail(f"the window system: {error}")
        self._retry()

    def _retry(self) -> None:
        scheduler = self._scheduler
        if scheduler is None:
            return
        delay = self._rewatch_delay
        self._rewatch_delay = min(_REWATCH_MAX, delay * 2) if delay else _REWATCH_FIRST
        scheduler.run_later(_REWATCH_JOB, self._rewatch_delay, self._rewatch)

    def _rewatch(self) -> None:
        self.sync()
        scheduler = self._scheduler
        back = self._watch is not None or (scheduler is not None and scheduler.polling)
        if back and self._rewatch_delay:
            self._rewatch_delay = 0.0
            log.info("the window system is back: following the active window again")
            self._tick("reconnected")  # leaves the error state now rather than at the next tick
