"""Which sessions Jarvis captures, and the refusal a user sees for the others."""

from __future__ import annotations

import pytest

from jarvis_platform import UnsupportedSessionError, check_session, get_platform


def test_wayland_session_is_refused_with_what_to_do() -> None:
    """A Wayland session is refused, naming the evidence and how to get an X11 session."""
    with pytest.raises(UnsupportedSessionError) as caught:
        check_session({"XDG_SESSION_TYPE": "wayland", "DISPLAY": ":0"}, "linux")
    message = str(caught.value)
    assert "Wayland" in message
    assert "XDG_SESSION_TYPE=wayland" in message
    assert "X11 session" in message


def test_wayland_display_alone_is_refused_too() -> None:
    """WAYLAND_DISPLAY set (even with XWayland's DISPLAY) means native windows we cannot see."""
    with pytest.raises(UnsupportedSessionError, match="WAYLAND_DISPLAY=wayland-0"):
        check_session({"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}, "linux")


def test_no_display_is_refused_with_what_to_do() -> None:
    """Without DISPLAY (a console or SSH login) the message says to start from the desktop."""
    with pytest.raises(UnsupportedSessionError, match="DISPLAY is not set"):
        check_session({}, "linux")


def test_x11_macos_and_windows_sessions_are_recognised() -> None:
    """An X11 session, macOS and Windows each pick their platform."""
    assert check_session({"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}, "linux") == "x11"
    assert check_session({}, "darwin") == "macos"
    assert check_session({}, "win32") == "windows"


def test_unreachable_display_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """A DISPLAY that no X server answers is refused with the display named."""
    monkeypatch.setenv("DISPLAY", ":987")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("XDG_SESSION_TYPE", raising=False)
    with pytest.raises(UnsupportedSessionError, match="':987'"):
        get_platform()


def test_every_backend_gives_a_verdict_with_its_reason() -> None:
    """On X11 the X11 backend is chosen; sway says why it is not viable (shown by doctor)."""
    from jarvis_platform import choose

    choice = choose({"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11"}, "linux")
    assert choice.backend.name == "X11"
    lines = [v.line() for v in choice.verdicts]
    assert lines[0] == "X11 (priority 10): DISPLAY=:0"
    assert "sway (not viable): not a Wayland session" in lines


def test_sway_without_its_socket_is_refused_with_the_fix() -> None:
    """A sway session whose SWAYSOCK is missing says how to start Jarvis from sway."""
    env = {"WAYLAND_DISPLAY": "wayland-1", "XDG_CURRENT_DESKTOP": "sway", "DISPLAY": ":0"}
    with pytest.raises(UnsupportedSessionError, match="SWAYSOCK is not set"):
        check_session(env, "linux")
