"""`jarvis up` on a real desktop: Xvfb + openbox + trayer, a real keyring, a real local server.

The user's view: the icon appears in the panel, Ctrl+Alt+P pauses (the status says so and no
capture reaches the server meanwhile), pressing it again resumes, and captures arrive.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from jarvis_agent.config import ConfigStore
from tests.e2e.conftest import (
    JarvisUp,
    count_near,
    free_port,
    panel_pixels,
    wait_for,
)
from tests.support.desktop import Desktop

pytestmark = [pytest.mark.x11, pytest.mark.keyring, pytest.mark.slow]

CAPTURING_RED = (0xE5, 0x35, 0x2B)
PAUSED_AMBER = (0xF5, 0xA6, 0x23)
INTERVAL = 2  # seconds between captures in these tests


def _fast_captures() -> None:
    """Capture every INTERVAL seconds, even when the screen does not change."""
    store = ConfigStore()
    store.set_value("capture.interval_seconds", str(INTERVAL))
    store.set_value("capture.jitter_seconds", "0")
    store.set_value("capture.max_gap_seconds", "1")


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_up_shows_the_tray_pauses_on_the_hotkey_and_delivers_captures(
    x_desktop: Desktop, start_up: object, tmp_path: Path
) -> None:
    """The whole newcomer path: icon in the panel, hotkey pause/resume, captures on the server."""
    x_desktop_shot = tmp_path / "panel.png"
    _fast_captures()
    assert callable(start_up)
    run: JarvisUp = start_up(free_port())
    wait_for(lambda: "Tray: starting" in run.output or run.process.poll() is not None, "the tray")
    assert run.process.poll() is None, run.output
    assert "started a local Jarvis server" in run.output
    assert "created a device token" in run.output
    # Each slow step is announced before it starts, so the user is never left in silence.
    said = [" ".join(line.split()[:2]) for line in run.output.splitlines()]
    steps = ["Up: getting", "Server: starting", "Server: started", "Token: creating"]
    steps += ["Token: created", "Tray: starting"]
    assert [s for s in said if s in steps] == steps, run.output

    # The icon is drawn into trayer's panel: the red "recording" dot is there.
    def explain() -> str:
        panel_pixels(x_desktop).save(x_desktop_shot)
        return f"panel saved to {x_desktop_shot}; jarvis up said:\n{run.output}"

    wait_for(
        lambda: count_near(panel_pixels(x_desktop), CAPTURING_RED) > 20,
        "the red tray icon",
        explain=explain,
    )

    admin = run.server_cli("token", "create", "--device", "e2e-admin", "--admin")
    wait_for(lambda: len(run.captures(admin)) >= 1, "a capture to reach the server")

    x_desktop.run("xdotool", "key", "ctrl+alt+p")
    wait_for(lambda: run.status().get("state") == "paused", "`jarvis status` to say paused")
    wait_for(lambda: count_near(panel_pixels(x_desktop), PAUSED_AMBER) > 20, "the paused icon")
    assert "paused" in run.jarvis("status").stdout.lower()
    # Let anything in flight land, then nothing new may arrive during several intervals.
    time.sleep(INTERVAL * 2)
    while_paused = len(run.captures(admin))
    time.sleep(INTERVAL * 4)
    assert len(run.captures(admin)) == while_paused

    x_desktop.run("xdotool", "key", "ctrl+alt+p")
    wait_for(lambda: run.status().get("state") == "capturing", "`jarvis status` to say capturing")
    wait_for(lambda: len(run.captures(admin)) > while_paused, "captures after resuming")

    # Quitting the tray app (while it captures every INTERVAL s) stops the server `jarvis up`
    # started.
    assert run.stop() == 0, run.output
    assert "stopping the local Jarvis server" in run.output
    assert not _answers(run.url)


def test_second_up_gives_one_hint_and_starts_nothing(start_up: object) -> None:
    """A second `jarvis up` while the first runs says so once and touches neither the server nor
    the token: the first keeps running, and no second token is made."""
    assert callable(start_up)
    port = free_port()
    first: JarvisUp = start_up(port)
    wait_for(lambda: "Tray: starting" in first.output or first.process.poll() is not None, "up")
    assert "created a device token" in first.output, first.output
    first_config = ConfigStore().path.read_text()
    assert f"http://127.0.0.1:{port}" in first_config

    second: JarvisUp = start_up(port)
    second.process.wait(60)
    assert second.process.returncode == 1
    assert second.output.count("already running") == 1, second.output
    assert "Server:" not in second.output
    assert "Token:" not in second.output
    assert ConfigStore().path.read_text() == first_config
    assert first.process.poll() is None


def test_up_never_prints_the_token(start_up: object, jarvis_home: object) -> None:
    """The token `jarvis up` creates goes to the keyring only: not to output, files or logs."""
    from jarvis_sync import credentials

    assert callable(start_up)
    run: JarvisUp = start_up(free_port())
    wait_for(lambda: "Tray: starting" in run.output or run.process.poll() is not None, "up")
    token = credentials.load_token()
    assert token
    # Quit at once, while the tray may still be starting: the SIGTERM must not be lost.
    assert run.stop() == 0, run.output
    assert token not in run.output
    from pathlib import Path

    for path in Path(str(jarvis_home)).rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path
