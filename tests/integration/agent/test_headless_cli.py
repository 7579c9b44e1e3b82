"""`jarvis run --headless` driven by the real CLI over the control socket; checked on the server."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from jarvis_agent.paths import agent_paths
from tests.integration.agent.conftest import HeadlessAgent, jarvis, wait_for

pytestmark = [pytest.mark.x11, pytest.mark.keyring, pytest.mark.slow]


def test_status_pause_resume_capture_now_round_trip(headless_agent: HeadlessAgent) -> None:
    """status --json, pause 15m (nothing stored), resume, capture-now (stored on the server)."""
    agent = headless_agent
    agent.start()
    first = agent.sync_and_wait(1)  # the start-up capture
    assert len(first) == 1

    done = jarvis("status", "--json", check=True)
    status = json.loads(done.stdout)
    assert status["state"] == "capturing"
    assert status["counters"]["captured"] == 1
    assert status["sync"]["server_url"] == agent.server.url
    assert agent.process is not None
    assert status["pid"] == agent.process.pid

    done = jarvis("pause", "15m", check=True)
    assert done.stdout.startswith("Paused until ")
    status = json.loads(jarvis("status", "--json", check=True).stdout)
    assert status["state"] == "paused"
    until = datetime.fromisoformat(status["paused_until"])
    left = until - datetime.now().astimezone()
    assert timedelta(minutes=14) < left <= timedelta(minutes=15)
    human = jarvis("status", check=True).stdout
    assert "State:      paused" in human
    assert "Resumes:    " in human
    assert "Next:" not in human

    done = jarvis("capture-now", check=True)
    assert done.stdout.startswith("Not captured: paused until ")
    jarvis("sync-now", check=True)
    assert len(agent.stored()) == 1  # still only the start-up capture

    assert jarvis("resume", check=True).stdout.strip() == "Resumed."
    wait_for(lambda: agent.status()["state"] == "capturing", "capturing after resume")
    done = jarvis("capture-now", check=True)
    assert done.stdout.startswith("Captured 1 frame")
    # Resuming looked at the screen too, but it had not changed since the start-up capture.
    stored = agent.sync_and_wait(2)
    assert len(stored) == 2
    assert {record.device for record in stored} == {agent.device}
    assert all(record.width == 1920 and record.height == 1080 for record in stored)


def test_pause_survives_a_restart(headless_agent: HeadlessAgent) -> None:
    """An agent restarted while paused (say at login) stays paused and stores nothing."""
    agent = headless_agent
    agent.start()
    jarvis("pause", check=True)
    agent.stop()
    agent.start()
    status = agent.status()
    assert status["state"] == "paused"
    assert status["reasons"] == ["paused until resumed"]
    assert status["counters"]["captured"] == 0


def test_agent_log_records_each_state_change_with_its_cause(headless_agent: HeadlessAgent) -> None:
    """A pause and a resume from the command line each write a log line naming the command
    line as the cause, and a quit writes "agent stopped" as the last line."""
    agent = headless_agent
    agent.start()
    jarvis("pause", check=True)
    jarvis("resume", check=True)
    agent.stop()
    lines = agent_paths().agent_log.read_text(encoding="utf-8").splitlines()
    assert any(line.endswith("paused until resumed (by the command line)") for line in lines)
    assert any(line.endswith("resumed (by the command line)") for line in lines)
    assert lines[-1].endswith("agent stopped")


def test_a_timed_pause_that_ends_is_logged(headless_agent: HeadlessAgent) -> None:
    """When a timed pause runs out, the log says so (the resume had no user command to log)."""
    agent = headless_agent
    agent.start()
    jarvis("pause", "3s", check=True)
    wait_for(lambda: agent.status()["state"] == "capturing", "capturing after the pause ran out")
    log_file = agent_paths().agent_log
    wait_for(
        lambda: "pause ended (timer): capturing resumed" in log_file.read_text(encoding="utf-8"),
        "the pause's end in the agent log",
    )
    lines = log_file.read_text(encoding="utf-8").splitlines()
    paused = next(i for i, line in enumerate(lines) if "paused until" in line)
    ended = next(i for i, line in enumerate(lines) if "pause ended (timer)" in line)
    assert paused < ended


def test_second_agent_is_refused_with_the_pid(headless_agent: HeadlessAgent) -> None:
    """A second `jarvis run --headless` says one is running, with its pid, and exits non-zero."""
    agent = headless_agent
    agent.start()
    assert agent.process is not None
    done = jarvis("run", "--headless", timeout=60)
    assert done.returncode == 1
    assert f"already running with pid {agent.process.pid}" in done.stderr


def test_sigterm_stops_the_agent_cleanly(headless_agent: HeadlessAgent) -> None:
    """SIGTERM ends the agent with exit code 0 and a goodbye; the CLI then says it's not running."""
    agent = headless_agent
    agent.start()
    out = agent.stop()
    assert agent.process is not None
    assert agent.process.returncode == 0
    assert "Jarvis agent stopped." in out
    done = jarvis("status")
    assert done.returncode == 3
    assert "not running" in done.stderr


@pytest.mark.parametrize("command", [["status"], ["pause", "15m"], ["resume"], ["capture-now"]])
def test_commands_say_when_the_agent_is_not_running(command: list[str]) -> None:
    """Without an agent, commands that need it say so, say how to start it, and exit 3."""
    done = jarvis(*command)
    assert done.returncode == 3
    assert "the Jarvis agent is not running" in done.stderr
    assert "jarvis run --headless" in done.stderr


def test_bad_pause_duration_is_refused_before_asking_the_agent() -> None:
    """`jarvis pause soon` explains the accepted forms (and needs no agent to do so)."""
    done = jarvis("pause", "soon")
    assert done.returncode == 2
    assert "cannot read the duration 'soon'" in done.stderr
    assert "15m" in done.stderr


@pytest.mark.parametrize("duration", ["-5", "-1h"])
def test_negative_pause_gets_the_pause_message_not_an_option_error(duration: str) -> None:
    """`jarvis pause -5` is a wrong duration, not an unknown option (nor `-1` plus `-h`, help):
    the pause says what it needs."""
    done = jarvis("pause", duration)
    assert done.returncode == 2
    assert (
        f"'{duration}' is negative; a pause must be a positive duration like 15m, 1h, 2h30m"
        in done.stderr
    )
    assert "No such option" not in done.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DISPLAY": "", "WAYLAND_DISPLAY": ""}, "no display to capture: DISPLAY is not set"),
        ({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"}, "this is a Wayland session"),
    ],
)
def test_agent_refuses_sessions_it_cannot_protect(
    env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without X11 (none, or Wayland) the agent refuses to start and says why; nothing is queued."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    done = jarvis("run", "--headless", timeout=60)
    assert done.returncode == 1
    assert message in done.stderr
    assert not (agent_paths().outbox_dir).exists()


def test_doctor_with_no_server_suggests_jarvis_up() -> None:
    """With no server configured, doctor's server line points at `jarvis up` (a server on this
    computer, logged in), not only at a `jarvis login` the user has no server for."""
    done = jarvis("doctor")
    assert done.returncode == 1
    assert "FAIL server: no server configured" in done.stdout
    assert "-> run `jarvis up` to start a server on this computer and log in to it" in done.stdout
    assert "GiB free at" in done.stdout
