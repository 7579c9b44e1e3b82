"""When captures happen: an interval with jitter, "capture now", and active-window changes.

APScheduler 3's BackgroundScheduler drives everything on ONE worker thread (a single-worker
executor), so the capture pipeline and its platform connection are only ever used from that
thread, and a capture never overlaps another. The interval job coalesces missed runs and has a
misfire grace: after the machine sleeps for an hour, it captures once, not 240 times.

The window watcher polls the active window once a second (a couple of cheap X round trips) and asks
for a capture when the focused window or its title changes, at most once per minimum gap.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

__all__ = ["CaptureScheduler", "WindowWatcher"]

log = logging.getLogger("jarvis.scheduler")

TICK_JOB = "capture-interval"
WATCH_JOB = "window-watch"
WAKE_JOB = "wake"


class WindowWatcher:
    """Says when the active window changed, allowing one trigger per `min_gap` seconds.

    `probe` returns something identifying the active window (id and title); a change seen during
    the gap is remembered and fires once the gap has passed, so the last window is not missed.
    """

    def __init__(
        self,
        probe: Callable[[], object],
        *,
        min_gap: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._probe = probe
        self.min_gap = min_gap
        self._clock = clock
        self._last: object = None
        self._primed = False
        self._pending = False
        self._last_fired = float("-inf")

    def changed(self) -> bool:
        """Poll once; True when a capture should happen for a window change."""
        current = self._probe()
        if not self._primed:
            self._last, self._primed = current, True
            return False
        if current != self._last:
            self._last = current
            self._pending = True
        if self._pending and self._clock() - self._last_fired >= self.min_gap:
            self._pending = False
            self._last_fired = self._clock()
            return True
        return False

    def note_capture(self) -> None:
        """A capture just happened for another reason: it counts towards the gap."""
        self._last_fired = self._clock()
        self._pending = False


class CaptureScheduler:
    """Runs `tick(reason)` on the schedule; `poll()` (if given) every `poll_seconds`."""

    def __init__(
        self,
        tick: Callable[[str], None],
        *,
        interval_seconds: float,
        jitter_seconds: float = 0.0,
        misfire_grace_seconds: float = 30.0,
        poll: Callable[[], None] | None = None,
        poll_seconds: float = 1.0,
    ) -> None:
        self._tick = tick
        self._poll = poll
        self._poll_seconds = poll_seconds
        self._lock = threading.Lock()
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1},
        )
        self._interval = interval_seconds
        self._jitter = jitter_seconds
        # Jobs in progress, tracked here rather than by APScheduler: its shutdown(wait=True) holds
        # the job-store lock while it waits, so a job that reads its own schedule (next_tick_at)
        # would deadlock the agent's stop.
        self._activity = threading.Condition()
        self._active_jobs = 0
        self._stopping = False
        self._grace = misfire_grace_seconds

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        self._scheduler.add_job(
            self._guarded,
            self._interval_trigger(),
            args=(self._run_tick, "interval"),
            id=TICK_JOB,
            misfire_grace_time=int(self._grace),
            replace_existing=True,
        )
        if self._poll is not None:
            self._scheduler.add_job(
                self._guarded,
                IntervalTrigger(seconds=self._poll_seconds),
                args=(self._run_poll,),
                id=WATCH_JOB,
                misfire_grace_time=max(1, int(self._poll_seconds)),
                replace_existing=True,
            )
        self._scheduler.start()

    def shutdown(self, *, wait: bool = True, timeout: float = 30.0) -> None:
        """Stop scheduling; with `wait`, let a capture in progress finish (up to `timeout` s)."""
        with self._activity:
            self._stopping = True
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        if not wait:
            return
        with self._activity:
            if not self._activity.wait_for(lambda: self._active_jobs == 0, timeout=timeout):
                log.warning("a capture was still running %.0f s after stop was asked", timeout)

    def _guarded(self, func: Callable[..., object], *args: object) -> None:
        """Run a job unless the scheduler is stopping, counting it while it runs."""
        with self._activity:
            if self._stopping:
                return
            self._active_jobs += 1
        try:
            func(*args)
        finally:
            with self._activity:
                self._active_jobs -= 1
                self._activity.notify_all()

    def reschedule(
        self, *, interval_seconds: float, jitter_seconds: float, misfire_grace_seconds: float
    ) -> None:
        """Apply a new interval without restarting; the next tick is one interval from now."""
        with self._lock:
            unchanged = (interval_seconds, jitter_seconds, misfire_grace_seconds) == (
                self._interval,
                self._jitter,
                self._grace,
            )
            self._interval, self._jitter = interval_seconds, jitter_seconds
            self._grace = misfire_grace_seconds
        if unchanged or not self._scheduler.running:
            return
        self._scheduler.modify_job(TICK_JOB, misfire_grace_time=int(misfire_grace_seconds))
        self._scheduler.reschedule_job(TICK_JOB, trigger=self._interval_trigger())
        log.info("capture interval now %.0f s (jitter %.0f s)", interval_seconds, jitter_seconds)

    def trigger(self, reason: str) -> None:
        """Run `tick(reason)` as soon as the worker is free (after any capture in progress)."""
        self.run_soon(self._run_tick, reason)

    def run_soon(self, func: Callable[..., object], *args: object) -> None:
        """Run `func(*args)` on the worker thread as soon as it is free."""
        self._scheduler.add_job(
            self._guarded,
            DateTrigger(),
            args=(func, *args),
            misfire_grace_time=None,  # a requested capture is never dropped as late
        )

    def wake_at(self, when: datetime, callback: Callable[[], None]) -> None:
        """Call `callback` at `when` (one pending wake-up; a new one replaces it)."""
        self._scheduler.add_job(
            self._guarded,
            DateTrigger(run_date=when),
            args=(callback,),
            id=WAKE_JOB,
            replace_existing=True,
        )

    def cancel_wake(self) -> None:
        job = self._scheduler.get_job(WAKE_JOB)
        if job is not None:
            job.remove()

    def next_tick_at(self) -> datetime | None:
        job = self._scheduler.get_job(TICK_JOB)
        return job.next_run_time if job is not None else None

    def _interval_trigger(self) -> IntervalTrigger:
        start = datetime.now().astimezone() + timedelta(seconds=self._interval)
        return IntervalTrigger(
            seconds=self._interval, jitter=self._jitter or None, start_date=start
        )

    def _run_tick(self, reason: str) -> None:
        try:
            self._tick(reason)
        except Exception:  # the scheduler would only print it; keep the agent alive
            log.exception("capture tick (%s) failed", reason)

    def _run_poll(self) -> None:
        try:
            if self._poll is not None:
                self._poll()
        except Exception:
            log.exception("active-window poll failed")
