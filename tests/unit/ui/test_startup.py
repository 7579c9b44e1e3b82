"""Start-up checks: sessions the tray cannot run in get a clear message and the headless way."""

from __future__ import annotations

from jarvis_ui.startup import display_problem


def test_no_display_names_the_headless_alternative() -> None:
    """Without DISPLAY the message says so and points to `jarvis run --headless`."""
    problem = display_problem({}, "linux")
    assert problem is not None
    assert "DISPLAY is not set" in problem
    assert "jarvis run --headless" in problem


def test_wayland_session_is_explained() -> None:
    """A Wayland session is refused with the reason and both ways forward."""
    problem = display_problem({"XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"}, "linux")
    assert problem is not None
    assert "Wayland" in problem
    assert "X11" in problem
    assert "jarvis run --headless" in problem


def test_x11_session_is_fine() -> None:
    """An X11 session with DISPLAY set passes, as do macOS and Windows (no DISPLAY there)."""
    assert display_problem({"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}, "linux") is None
    assert display_problem({}, "darwin") is None
    assert display_problem({}, "win32") is None
