"""When captures happen: an interval with jitter, "capture now", and active-window changes.

APScheduler 3's BackgroundScheduler drives everything on ONE worker thread (a single-worker
executor), so the capture pipeline and its platform connection are only ever used from that
thread, and a capture never overlaps another. The interval job coalesces missed runs and has a
misfire grace: after the machine sleeps for an hour, it captures once, not 240 times.

Active-window changes arrive two ways, both ending on that worker. Where the platform reports them
as events (X11: PropertyNotify on the root's _NET_ACTIVE_WINDOW and on the focused window's title,
read by a thread with its own X connection, see platform/x11_watch.py), the event thread only
tells a WindowChangeGate and asks for a "window-change" job via `run_later`; it never captures.
Elsewhere (macOS, Windows) a WindowWatcher polls the active window once a second through `poll`.
Either way the gate allows one window-change capture per minimum gap: a change during the gap is
captured once when the gap has passed, and any capture (scheduled or asked for) restarts the gap.
With events, a capture also waits a short settle after the change (the window manager hands the
focus over in two steps, and the new window repaints).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.executors.pool import BasePoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

__all__ = ["CaptureScheduler", "WindowChangeGate", "WindowWatcher"]

log = logging.getLogger("jarvis.scheduler")

TICK_JOB = "capture-interval"
POLL_JOB = "window-poll"
WAKE_JOB = "wake"


class WindowChangeGate:
    """Decides when an active-window change may be captured: at most once per `min_gap` seconds.

    Pure bookkeeping, safe to call from several threads (the X watch thread observes, the
    scheduler's worker takes). A change seen during the gap stays pending and is captured once
    when the gap has passed, so the window the user ended up in is not missed; any number of
    changes within one gap give that one capture. The first window observed is only learnt.

    `settle` delays a change's capture by that many seconds after the first change still pending:
    a focus switch is often two changes in a row (the window manager clears the focus, then gives
    it to the new window) and the new window repaints; both are over before the capture. Later
    changes do not push the capture further back, so a window retitling non-stop still gets one.
    """

    def __init__(
        self,
        *,
        min_gap: float,
        settle: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lock = threading.Lock()
        self._min_gap = min_gap
        self.settle = settle
        self._clock = clock
        self._last: object = None
        self._primed = False
        self._pending = False
        self._pending_since = float("-inf")
        self._changed_at = float("-inf")
        self._last_fired = float("-inf")

    @property
    def min_gap(self) -> float:
        return self._min_gap

    @min_gap.setter
    def min_gap(self, seconds: float) -> None:
        with self._lock:
            self._min_gap = seconds

    def observe(self, window: object) -> float | None:
        """Note the active window: seconds until its capture may run (0: now); None: no change."""
        with self._lock:
            if not self._primed:
                self._last, self._primed = window, True
                return None
            if window == self._last:
                return None
            self._last = window
            self._changed_at = self._clock()
            if not self._pending:
                self._pending, self._pending_since = True, self._changed_at
            return self._wait()

    def take(self) -> float | None:
        """None when nothing is pending; 0 when a capture should run now (it counts as done);
        otherwise the seconds still to wait."""
        with self._lock:
            if not self._pending:
                return None
            wait = self._wait()
            if wait == 0:
                self._pending = False
                self._last_fired = self._clock()
            return wait

    def note_capture(self, started: float | None = None) -> None:
        """A capture just happened: it restarts the gap, and shows any change seen before it
        `started` (by this gate's clock; None: before now), which is then no longer pending."""
        with self._lock:
            self._last_fired = self._clock()
            if started is None or self._changed_at <= started:
                self._pending = False

    def _wait(self) -> float:
        due = max(self._last_fired + self._min_gap, self._pending_since + self.settle)
        return max(0.0, due - self._clock())


class WindowWatcher:
    """Polling driver of a WindowChangeGate, for platforms without active-window events.

    `probe` returns something identifying the active window (id and title); call `changed()`
    once a second.
    """

    def __init__(
        self,
        probe: Callable[[], object],
        *,
        min_gap: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        gate: WindowChangeGate | None = None,
    ) -> None:
        self._probe = probe
        self.gate = gate if gate is not None else WindowChangeGate(min_gap=min_gap, clock=clock)

    @property
    def min_gap(self) -> float:
        return self.gate.min_gap

    @min_gap.setter
    def min_gap(self, seconds: float) -> None:
        self.gate.min_gap = seconds

    def changed(self) -> bool:
        """Poll once; True when a capture should happen for a window change."""
        self.gate.observe(self._probe())
        return self.gate.take() == 0

    def note_capture(self) -> None:
        """A capture just happened for another reason: it counts towards the gap."""
        self.gate.note_capture()


_Job = tuple["concurrent.futures.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class _OneDaemonThread:
    """A pool of one daemon thread, for APScheduler's executor.

    concurrent.futures' ThreadPoolExecutor joins its threads at interpreter exit with no
    deadline, so a capture stuck in a C call (an X request to a frozen X server, an fsync on a
    dying disk) would keep the agent from exiting after stop. A daemon thread cannot: what the
    outbox accepted is durable, and a capture cut short was never accepted.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._shut = False

    def submit(self, func: Callable[..., Any], *args: Any) -> concurrent.futures.Future[Any]:
        future: concurrent.futures.Future[Any] = concurrent.futures.Future()
        with self._lock:
            if self._shut:
                raise RuntimeError("the capture worker has been shut down")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="jarvis-capture-worker", daemon=True
                )
                self._thread.start()
            self._jobs.put((future, func, args))
        return future

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            self._shut = True
            self._jobs.put(None)
            thread = self._thread
        if wait and thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        while (item := self._jobs.get()) is not None:
            future, func, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = func(*args)
            except BaseException as exc:  # handed to APScheduler, which logs it
                future.set_exception(exc)
            else:
                future.set_result(result)


class _DaemonExecutor(BasePoolExecutor):  # type: ignore[misc]
    """APScheduler's pool executor over `_OneDaemonThread`."""

    def __init__(self) -> None:
        super().__init__(_OneDaemonThread())


class CaptureScheduler:
    """Runs `tick(reason)` on the schedule, and other jobs on the same worker when asked."""

    def __init__(
        self,
        tick: Callable[[str], object],
        *,
        interval_seconds: float,
        jitter_seconds: float = 0.0,
        misfire_grace_seconds: float = 30.0,
    ) -> None:
        self._tick = tick
        self._lock = threading.Lock()
        self._scheduler = BackgroundScheduler(
            executors={"default": _DaemonExecutor()},
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
        self._scheduler.start()

    def shutdown(self, *, wait: bool = True, timeout: float = 2.0) -> bool:
        """Stop scheduling; with `wait`, let a capture in progress finish (up to `timeout` s).

        Returns False when a job is still running (stuck): its thread is a daemon and is left
        behind, and what it uses (the platform, the outbox) must not be closed under it.
        """
        with self._activity:
            self._stopping = True
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        with self._activity:
            if not wait:
                return self._active_jobs == 0
            if not self._activity.wait_for(lambda: self._active_jobs == 0, timeout=timeout):
                log.warning("a capture was still running %.1f s after stop was asked", timeout)
                return False
        return True

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

    def run_later(self, job_id: str, seconds: float, func: Callable[..., object]) -> None:
        """Run `func()` on the worker in `seconds` (0: when free); replaces a pending `job_id`."""
        when = datetime.now().astimezone() + timedelta(seconds=max(0.0, seconds))
        self._scheduler.add_job(
            self._guarded,
            DateTrigger(run_date=when),
            args=(self._run_job, func),
            id=job_id,
            replace_existing=True,
            misfire_grace_time=None,  # late (after a long capture or a sleep) is still wanted
        )

    def poll(self, func: Callable[[], object], *, seconds: float = 1.0) -> None:
        """Run `func()` on the worker every `seconds` until `stop_poll()` (one poll at a time)."""
        self._scheduler.add_job(
            self._guarded,
            IntervalTrigger(seconds=seconds),
            args=(self._run_job, func),
            id=POLL_JOB,
            misfire_grace_time=max(1, int(seconds)),
            replace_existing=True,
        )

    def stop_poll(self) -> None:
        self.cancel(POLL_JOB)

    def cancel(self, job_id: str) -> None:
        """Drop a pending job (run_later's or the poll); nothing happens if there is none."""
        with contextlib.suppress(JobLookupError):
            self._scheduler.remove_job(job_id)

    @property
    def polling(self) -> bool:
        return self._scheduler.get_job(POLL_JOB) is not None

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

    @staticmethod
    def _run_job(func: Callable[[], object]) -> None:
        try:
            func()
        except Exception:  # the scheduler would only print it; keep the agent alive
            log.exception("scheduled job %s failed", getattr(func, "__name__", func))
