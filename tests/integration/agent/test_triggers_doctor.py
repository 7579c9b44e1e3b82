"""Captures that happen by themselves (interval, window change), and `jarvis doctor` on a real
desktop, keyring and server."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.integration.agent.conftest import HeadlessAgent, jarvis, wait_for
from tests.support.postgres import free_port

pytestmark = [pytest.mark.x11, pytest.mark.keyring, pytest.mark.slow]


def test_switching_windows_triggers_a_capture_of_the_new_window(
    headless_agent: HeadlessAgent,
) -> None:
    """With the window trigger on, focusing another window soon stores a capture titled after it."""
    agent = headless_agent
    desktop = agent.desktop
    first = desktop.spawn_xterm("Design notes", "XTerm", "80x24+100+100", background="white")
    desktop.spawn_xterm("Build log", "XTerm", "80x24+700+400", background="yellow")
    agent.configure(
        **{
            "capture.window_change_trigger": "true",
            "capture.window_change_min_gap_seconds": "0.5",
        }
    )
    agent.start()
    assert agent.sync_and_wait(1)[-1].window_title == "Build log"  # the start-up capture

    desktop.activate(first)
    wait_for(lambda: agent.status()["counters"]["captured"] >= 2, "a window-change capture")
    stored = agent.sync_and_wait(2)
    assert stored[-1].window_title == "Design notes"


def test_interval_option_schedules_captures(headless_agent: HeadlessAgent) -> None:
    """`run --headless --interval 2` ticks every 2 s: the screen is looked at again and again."""
    agent = headless_agent
    agent.start("--interval", "2")
    status = agent.status()
    assert status["interval_seconds"] == 2
    next_at = datetime.fromisoformat(status["next_capture_at"])
    assert (next_at - datetime.now().astimezone()).total_seconds() <= 2
    # An unchanged screen is looked at and skipped (not stored) on every tick.
    wait_for(lambda: agent.status()["counters"]["skipped"] >= 2, "two scheduled ticks")
    agent.desktop.spawn_xterm("Something new", "XTerm", "40x10+50+50", background="blue")
    wait_for(lambda: agent.status()["counters"]["captured"] >= 2, "a scheduled capture")
    assert agent.sync_and_wait(2)[-1].window_title == "Something new"


def test_doctor_reports_each_part_ok(headless_agent: HeadlessAgent) -> None:
    """On a working setup every line is OK: X11, a real grab, the keyring, the server, the agent."""
    agent = headless_agent
    agent.start()
    done = jarvis("doctor", check=True)
    lines = done.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "OK   config",
        "OK   display server",
        "OK   screen capture",
        "OK   keyring",
        "OK   server",
        "OK   token",
        "OK   disk space",
        "OK   agent",
    ]
    assert "SecretService" in done.stdout
    assert f"{agent.server.url}/health answered 200" in done.stdout


def test_doctor_says_what_to_fix(headless_agent: HeadlessAgent) -> None:
    """With nothing listening at the server address, doctor fails that line and says what to do."""
    agent = headless_agent
    nowhere = f"http://127.0.0.1:{free_port()}"
    agent.configure(**{"server.url": nowhere})
    done = jarvis("doctor")
    assert done.returncode == 1
    assert f"FAIL server: {nowhere} is not reachable" in done.stdout
    assert "-> check the address" in done.stdout
    assert "WARN agent: not running" in done.stdout
