"""A real headless agent inside a real headless sway: idle time from the compositor's idle
notifications (org_kde_kwin_idle) and the pause hotkey as a sway binding.
"""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
from pathlib import Path

import pytest

from jarvis_agent.paths import agent_paths
from tests.integration.agent.conftest import JARVIS, HeadlessAgent, jarvis, wait_for
from tests.support.wayland import SWAY_UID, Sway

pytestmark = pytest.mark.wayland


@pytest.fixture
def sway_agent(
    headless_agent: HeadlessAgent, sway: Sway, monkeypatch: pytest.MonkeyPatch
) -> HeadlessAgent:
    """The headless agent, started from sway's environment (so it uses the sway backend)."""
    for name, value in sway.env.items():
        monkeypatch.setenv(name, value)
    return headless_agent


def test_no_input_on_sway_skips_capture_as_idle_and_pointer_motion_resumes(
    sway_agent: HeadlessAgent, sway: Sway
) -> None:
    """Past the idle threshold with no input on sway's seat, capture-now is refused as idle and
    the agent reports idle; moving sway's pointer brings capture back."""
    agent = sway_agent
    agent.configure(**{"privacy.idle_threshold_seconds": "2"})
    agent.start()
    # The compositor counts from when the agent registered its idle timeout: wait past 2 s.
    done = wait_for(
        lambda: (d := jarvis("capture-now", check=True)).stdout.startswith("Not captured") and d,
        "capture-now refused as idle",
    )
    assert done.stdout.startswith("Not captured: no input for 0:00:0")
    assert "(idle threshold 0:00:02)" in done.stdout
    assert agent.status()["state"] == "idle"

    sway.msg("seat seat0 cursor move 5 5")  # real pointer motion on sway's seat
    done = jarvis("capture-now", check=True)
    assert done.stdout.startswith("Captured 1 frame"), done.stdout
    assert agent.status()["state"] == "capturing"


def test_hotkey_binding_applied_to_sway_toggles_the_pause(
    sway_agent: HeadlessAgent, sway: Sway
) -> None:
    """`jarvis hotkey sway --apply` prints the bindsym for ui.pause_hotkey and sway takes it; the
    command the binding runs pauses a capturing agent and resumes a paused one."""
    agent = sway_agent
    agent.configure(**{"ui.pause_hotkey": "<ctrl>+<shift>+<f9>"})
    agent.start()
    done = jarvis("hotkey", "sway", "--apply", check=True)
    line = done.stdout.strip()
    assert line == f"bindsym Ctrl+Shift+F9 exec {JARVIS} pause --toggle"
    assert "Added to the running sway" in done.stderr
    try:
        # headless sway has no keyboard to press the keys on: run what the binding executes.
        command = shlex.split(line.split(" exec ", 1)[1])
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert (done.returncode, done.stdout) == (0, "Paused until resumed.\n")
        assert jarvis("status", check=True).stdout.startswith("State:      paused\n")
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert (done.returncode, done.stdout) == (0, "Resumed.\n")
        assert agent.status()["state"] == "capturing"
    finally:
        # sway refuses to remove a binding it does not have: this also proves it was added.
        sway.msg("unbindsym Ctrl+Shift+F9")


def test_hotkey_without_a_sway_key_name_is_refused_naming_it(sway_agent: HeadlessAgent) -> None:
    """A hotkey sway cannot name is refused with the key and what to do; nothing is applied."""
    sway_agent.configure(**{"ui.pause_hotkey": "<ctrl>+<alt>+é"})
    done = jarvis("hotkey", "sway", "--apply")
    assert done.returncode == 1
    assert "'é' in the hotkey '<ctrl>+<alt>+é' has no sway key name" in done.stderr
    assert done.stdout == ""


def test_a_client_retitling_itself_fires_the_window_trigger_with_the_new_title(
    sway_agent: HeadlessAgent, sway: Sway, tmp_path: Path
) -> None:
    """A focused foot terminal whose shell sets a new title (OSC 2, as a browser changing page
    does) fires the window-change trigger: the agent's audit records a window-change capture
    with the new title, and the capture the server stores carries it."""
    go = tmp_path / "go"
    script = (
        f"while [ ! -e {go} ]; do sleep 0.1; done; "
        "printf '\\033]2;Mail — Mozilla Firefox\\007'; exec sleep 3600"
    )
    sway._spawn(
        ["foot", "--app-id", "firefox", "--title", "News — Mozilla Firefox", "sh", "-c", script],
        "firefox",
        "News — Mozilla Firefox",
    )
    agent = sway_agent
    agent.configure(
        **{
            "capture.window_change_trigger": "true",
            "capture.window_change_min_gap_seconds": "0.5",
            "capture.change_threshold": "0",
        }
    )
    agent.start()
    go.touch()
    sway.view("Mail — Mozilla Firefox")  # sway has the new title

    def window_change_titles() -> list[str | None]:
        path = agent_paths().audit_log
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        entries = [json.loads(line) for line in lines if line]
        return [
            e.get("window_title")
            for e in entries
            if e.get("trigger") == "window-change" and e["event"] == "captured"
        ]

    wait_for(
        lambda: "Mail — Mozilla Firefox" in window_change_titles(), "the window-change capture"
    )
    jarvis("sync-now", check=True)
    (record,) = wait_for(
        lambda: [r for r in agent.stored() if r.window_title == "Mail — Mozilla Firefox"],
        "the new title's capture on the server",
    )
    assert record.app_name == "firefox"


def test_swaylock_running_locks_capture_and_unlocking_brings_it_back(
    sway_agent: HeadlessAgent, sway: Sway
) -> None:
    """While a real swaylock locks sway (as the session's user), capture-now is refused as
    locked and the agent reports locked; when swaylock unlocks (SIGUSR1) capture comes back."""
    agent = sway_agent
    agent.start()
    locker = subprocess.Popen(
        [
            "setpriv", f"--reuid={SWAY_UID}", f"--regid={SWAY_UID}", "--clear-groups",
            "swaylock", "--color", "0000ff",
        ],
        env={
            "PATH": "/usr/bin:/bin",
            "WAYLAND_DISPLAY": str(sway.wayland_socket),
            "XDG_RUNTIME_DIR": str(sway.runtime_dir),
            "HOME": str(sway.runtime_dir),
        },
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        done = wait_for(
            lambda: (
                (d := jarvis("capture-now", check=True)).stdout.startswith("Not captured") and d
            ),
            "capture-now refused while swaylock runs",
        )
        assert done.stdout.startswith("Not captured: screen locked or screensaver on")
        assert agent.status()["state"] == "locked"
    finally:
        locker.send_signal(signal.SIGUSR1)  # swaylock's own way to unlock
        try:
            locker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            locker.kill()
            locker.wait()
    done = wait_for(
        lambda: (d := jarvis("capture-now", check=True)).stdout.startswith("Captured") and d,
        "capture after unlocking",
    )
    assert done.stdout.startswith("Captured 1 frame")
