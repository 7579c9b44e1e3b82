"""The window-change trigger's gate: one capture per minimum gap, a settle delay, and changes that
a capture in between already showed."""

from __future__ import annotations

import pytest

from jarvis_agent.runtime.scheduler import WindowChangeGate


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_change_after_the_gap_is_captured_at_once_and_one_during_it_when_it_ends() -> None:
    """The first window is only learnt; a change with the gap passed may be captured now; a change
    inside the gap says how long to wait, and is captured once that time has come."""
    clock = Clock()
    gate = WindowChangeGate(min_gap=5, clock=clock)
    assert gate.observe("editor") is None
    assert gate.take() is None
    clock.now = 1
    assert gate.observe("browser") == 0
    assert gate.take() == 0  # fire now
    assert gate.take() is None  # and only once
    clock.now = 2
    assert gate.observe("terminal") == 4
    assert gate.take() == 4
    clock.now = 6
    assert gate.take() == 0
    assert gate.observe("terminal") is None  # the same window again is no change


def test_many_changes_within_one_gap_give_one_capture() -> None:
    """Rapid switching and retitling within the gap ends in a single capture, when the gap ends."""
    clock = Clock()
    gate = WindowChangeGate(min_gap=5, clock=clock)
    gate.observe("a")
    clock.now = 10
    gate.observe("b")
    assert gate.take() == 0
    fired = 0
    for step, window in enumerate(["c", "d", ("d", "new title"), "e"], start=1):
        clock.now = 10 + step * 0.5
        assert gate.observe(window) == 5 - step * 0.5
        fired += gate.take() == 0
    assert fired == 0
    clock.now = 15
    assert gate.take() == 0
    assert gate.take() is None


def test_settle_delays_the_capture_and_later_changes_do_not_postpone_it() -> None:
    """With a settle delay, the focus hand-over (no window, then the new one) is one capture a
    moment after the first change; a window retitling non-stop does not push it back."""
    clock = Clock()
    gate = WindowChangeGate(min_gap=1, settle=0.25, clock=clock)
    gate.observe("editor")
    clock.now = 100
    assert gate.observe(None) == 0.25
    clock.now = 100.01
    assert gate.observe("browser") == pytest.approx(0.24)
    clock.now = 100.2
    assert gate.observe(("browser", "loading")) == pytest.approx(0.05)
    assert gate.take() == pytest.approx(0.05)
    clock.now = 100.25
    assert gate.take() == 0
    assert gate.take() is None


def test_a_capture_for_another_reason_shows_earlier_changes_but_not_later_ones() -> None:
    """A scheduled capture that started after a change shows it (nothing more to capture); a change
    seen while that capture ran is still captured, once the gap has passed."""
    clock = Clock()
    gate = WindowChangeGate(min_gap=5, clock=clock)
    gate.observe("a")
    clock.now = 10
    gate.note_capture()
    clock.now = 11
    gate.observe("b")
    clock.now = 12
    gate.note_capture(started=11.5)  # began after "b": it shows "b"
    assert gate.take() is None
    clock.now = 20
    gate.observe("c")
    clock.now = 20.5
    gate.note_capture(started=19.9)  # began before "c": it may not show it
    assert gate.take() == 5  # the gap counts from the end of that capture
    clock.now = 25.5
    assert gate.take() == 0


def test_a_new_minimum_gap_applies_to_the_change_already_waiting() -> None:
    """Shortening the gap in the settings lets a waiting change through at the new, earlier time."""
    clock = Clock()
    gate = WindowChangeGate(min_gap=60, clock=clock)
    gate.observe("a")
    gate.observe("b")
    assert gate.take() == 0
    clock.now = 1
    assert gate.observe("c") == 59
    gate.min_gap = 2
    assert gate.take() == 1
    clock.now = 2
    assert gate.take() == 0
