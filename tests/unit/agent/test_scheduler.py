"""The window-change trigger's minimum gap."""

from __future__ import annotations

from jarvis_agent.scheduler import WindowWatcher


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
