"""The capture scheduler: the window-change trigger's minimum gap, and a clean stop."""

from __future__ import annotations

import threading
import time

from jarvis_agent.runtime.scheduler import CaptureScheduler, WindowWatcher


def test_window_changes_fire_at_most_once_per_gap_and_the_last_is_not_lost() -> None:
    """Switching windows rapidly gives one capture now and one for the last window after the gap."""
    now = [0.0]
    window = ["editor"]
    watcher = WindowWatcher(lambda: window[0], min_gap=5, clock=lambda: now[0])
    assert not watcher.changed()  # the first look only learns the current window
    window[0] = "browser"
    now[0] = 1
    assert watcher.changed()
    window[0] = "terminal"
    now[0] = 2
    assert not watcher.changed()  # inside the gap: remembered
    now[0] = 4
    assert not watcher.changed()
    now[0] = 6.5
    assert watcher.changed()  # the gap passed: the terminal gets its capture
    now[0] = 20
    assert not watcher.changed()  # nothing changed since


def test_other_captures_count_towards_the_gap() -> None:
    """A scheduled capture just before a window change postpones the change's capture."""
    now = [0.0]
    window = ["a"]
    watcher = WindowWatcher(lambda: window[0], min_gap=5, clock=lambda: now[0])
    watcher.changed()
    now[0] = 10
    watcher.note_capture()
    window[0] = "b"
    now[0] = 11
    assert not watcher.changed()
    now[0] = 15
    assert watcher.changed()


def test_stop_during_a_capture_waits_for_it_and_does_not_hang() -> None:
    """Quitting while a capture runs lets it finish (even if it reads the schedule), then stops.

    APScheduler's own shutdown(wait=True) holds its job-store lock while waiting, and the agent's
    tick reads its next run time when it ends: the tray app hung on Quit mid-capture.
    """
    started, release = threading.Event(), threading.Event()
    finished: list[object] = []
    later: list[str] = []
    scheduler: CaptureScheduler

    def tick(reason: str) -> None:
        if reason != "now":
            return
        started.set()
        release.wait()
        finished.append(scheduler.next_tick_at())

    scheduler = CaptureScheduler(tick, interval_seconds=3600)
    scheduler.start()
    scheduler.trigger("now")
    assert started.wait(10), "the requested capture never ran"
    scheduler.trigger("queued-behind-the-capture")
    scheduler.run_soon(later.append, "after stop")
    stopper = threading.Thread(target=scheduler.shutdown)
    stopper.start()
    time.sleep(0.2)  # let stop begin while the capture is still running
    release.set()
    stopper.join(10)
    assert not stopper.is_alive(), "stopping the scheduler hung while a capture was running"
    assert len(finished) == 1  # the running capture completed
    assert later == []  # nothing queued behind it ran after stop was asked
