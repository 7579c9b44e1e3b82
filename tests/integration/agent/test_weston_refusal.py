"""An unsupported Wayland compositor (a real headless weston): Jarvis refuses, names it, says
what is missing and what to do, and takes no frame: nothing reaches the outbox or the server."""

from __future__ import annotations

import pytest

from tests.integration.agent.conftest import HeadlessAgent, jarvis
from tests.support.weston import Weston

pytestmark = pytest.mark.wayland


@pytest.fixture
def weston_agent(
    headless_agent: HeadlessAgent, weston: Weston, monkeypatch: pytest.MonkeyPatch
) -> HeadlessAgent:
    """The headless agent, in weston's session (its Xwayland DISPLAY set too)."""
    for name in ("DISPLAY", "SWAYSOCK", "XDG_CURRENT_DESKTOP", "XDG_SESSION_DESKTOP"):
        monkeypatch.delenv(name, raising=False)
    for name, value in weston.env.items():
        monkeypatch.setenv(name, value)
    return headless_agent


def test_doctor_names_weston_and_what_to_do(weston_agent: HeadlessAgent, weston: Weston) -> None:
    """`jarvis doctor` under weston fails the display line naming weston (found from the program
    behind WAYLAND_DISPLAY: nothing else names it), why (no window list it can trust) and what
    to do (sway or an X11 session); the X11 backend is not taken for weston's Xwayland."""
    assert weston.x_display is not None
    done = jarvis("doctor")
    assert done.returncode == 1
    (line,) = [x for x in done.stdout.splitlines() if x.startswith("FAIL display server")]
    assert "of weston" in line
    assert "no window list it can trust" in line
    assert "sway" in line
    assert "X11 session" in line
    assert f"DISPLAY={weston.x_display} is Xwayland" in line


@pytest.mark.parametrize("command", [["run", "--headless"], ["run"]], ids=["headless", "tray"])
def test_agent_under_weston_refuses_to_start_and_captures_nothing(
    weston_agent: HeadlessAgent, command: list[str]
) -> None:
    """The headless agent and the tray app under weston both refuse to start, with the message
    naming weston, what is missing and what to do; nothing reaches the outbox or the server."""
    agent = weston_agent
    done = jarvis(*command)
    assert done.returncode == 1
    said = done.stdout + done.stderr
    assert "Wayland session (XDG_SESSION_TYPE=wayland) of weston" in said
    assert "no window list it can trust" in said
    assert "refuses to capture" in said
    status = jarvis("status")
    assert (status.returncode, status.stdout) == (3, "")
    assert "agent is not running" in status.stderr
    assert list((agent.home / "data").rglob("*")) == []  # not even an outbox was made
    assert agent.stored() == []
    assert agent.server.captures() == []
