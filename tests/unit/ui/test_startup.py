"""Start-up checks: sessions the tray cannot run in get a clear message and the headless way."""

from __future__ import annotations

import pytest

from jarvis_ui.startup import display_problem


def test_no_display_names_the_headless_alternative() -> None:
    """Without DISPLAY the message says so and points to `jarvis run --headless`."""
    problem = display_problem({}, "linux")
    assert problem is not None
    assert "DISPLAY is not set" in problem
    assert "jarvis run --headless" in problem


def test_wayland_session_without_its_display_is_explained() -> None:
    """A Wayland session whose WAYLAND_DISPLAY is not set is refused with the reason and the
    headless way forward."""
    problem = display_problem({"XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"}, "linux")
    assert problem is not None
    assert "WAYLAND_DISPLAY is not set" in problem
    assert "jarvis run --headless" in problem


def test_wayland_session_runs_the_tray() -> None:
    """A Wayland session with its display may run the tray (StatusNotifierItem or the status
    window); the capture backend's own verdict says whether this compositor can be captured."""
    env = {
        "XDG_SESSION_TYPE": "wayland",
        "WAYLAND_DISPLAY": "wayland-1",
        "XDG_RUNTIME_DIR": "/run/user/1000",
    }
    assert display_problem(env, "linux") is None


def test_x11_session_is_fine() -> None:
    """An X11 session with DISPLAY set passes, as do macOS and Windows (no DISPLAY there)."""
    assert display_problem({"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}, "linux") is None
    assert display_problem({}, "darwin") is None
    assert display_problem({}, "win32") is None


def test_tray_start_limits_malloc_arenas_before_qt(monkeypatch: pytest.MonkeyPatch) -> None:
    """`run_tray` (behind `jarvis`, `jarvis tray` and `jarvis up`) limits glibc's malloc arenas
    as the headless agent does, before Qt or the agent start any thread."""
    from jarvis_ui import app

    calls: list[str] = []

    class Stop(Exception):
        pass

    def make_application() -> None:
        calls.append("qt")
        raise Stop

    monkeypatch.setattr(app, "display_problem", lambda: None)
    monkeypatch.setattr(app, "limit_malloc_arenas", lambda: calls.append("arenas"))
    monkeypatch.setattr(app, "make_application", make_application)
    with pytest.raises(Stop):
        app.run_tray()
    assert calls == ["arenas", "qt"]
