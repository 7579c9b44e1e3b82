"""The window-change trigger of the in-process agent service on a real X desktop: it follows the X
server's active-window events, keeps its minimum gap, respects pause and live settings, and
survives the X server going away and coming back.

What a capture was for is read from the agent's audit log (`trigger` of each entry), what it shows
from the outbox and the audit's window title.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from jarvis_agent.config import ConfigStore
from jarvis_agent.paths import agent_paths
from jarvis_agent.runtime.service import AgentService
from jarvis_agent.runtime.state import AgentState
from jarvis_platform import Platform
from jarvis_platform.x11 import X11Platform
from tests.integration.agent.conftest import BASE_SETTINGS, wait_for
from tests.support.capture import BarePlatform
from tests.support.desktop import Desktop, Window
from tests.support.keyring import SecretService

pytestmark = [pytest.mark.x11, pytest.mark.keyring]

WATCH_THREAD = "jarvis-x11-window-watch"

# The trigger on; every changed pixel counts (a retitle changes only the title bar's text).
TRIGGER_SETTINGS = {
    **BASE_SETTINGS,
    "capture.window_change_trigger": "true",
    "capture.window_change_min_gap_seconds": "0.5",
    "capture.change_threshold": "0",
}


def audit(trigger: str | None = None) -> list[dict[str, Any]]:
    """The agent's audit entries so far (optionally only those of one trigger), oldest first."""
    path = agent_paths().audit_log
    if not path.exists():
        return []
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [e for e in entries if trigger is None or e.get("trigger") == trigger]


def window_change_captures() -> list[str | None]:
    """Titles of the windows captured for a window change, in order."""
    return [e.get("window_title") for e in audit("window-change") if e["event"] == "captured"]


def watch_threads() -> int:
    return sum(1 for thread in threading.enumerate() if thread.name == WATCH_THREAD)


@pytest.fixture
def start_service(
    x_windows: Desktop, secret_service: SecretService, jarvis_home: Path
) -> Iterator[Callable[..., AgentService]]:
    """Start an in-process agent (no sync, no control socket), trigger on, plus `settings`."""
    del x_windows, secret_service, jarvis_home  # the environment they set up is what counts
    started: list[AgentService] = []

    def start(platform: Platform | None = None, **settings: str) -> AgentService:
        store = ConfigStore()
        for key, value in {**TRIGGER_SETTINGS, **settings}.items():
            store.set_value(key, value)
        service = AgentService(
            store,
            paths=agent_paths(),
            platform=platform,
            control=False,
            sync=False,
            configure_logs=False,
        )
        started.append(service)
        service.start()
        wait_for(lambda: service.status().reasons != ("starting",), "the agent's first tick")
        if platform is None:
            wait_for(watch_threads, "the active-window watch")
        return service

    try:
        yield start
    finally:
        for service in started:
            service.stop()


def test_focusing_another_window_captures_it_soon(
    x_windows: Desktop, start_service: Callable[..., AgentService]
) -> None:
    """Clicking into another window stores a capture of it, marked as taken for a window change."""
    notes = x_windows.spawn_xterm("Design notes", "XTerm", "60x20+100+100", background="white")
    x_windows.spawn_xterm("Build log", "XTerm", "60x20+800+400", background="yellow")
    service = start_service()
    x_windows.activate(notes)
    wait_for(lambda: "Design notes" in window_change_captures(), "a window-change capture")
    newest = service.recent_captures(1)[0]
    assert newest.metadata.window_title == "Design notes"


def test_retitling_the_focused_window_captures_it_again(
    x_windows: Desktop, start_service: Callable[..., AgentService]
) -> None:
    """A browser moving to another page (its title changes) gives a capture with the new title."""
    browser = x_windows.spawn_xterm("News — Mozilla Firefox", "firefox", "80x24+200+150")
    start_service()
    x_windows.retitle(browser, "Mail — Mozilla Firefox")
    wait_for(
        lambda: "Mail — Mozilla Firefox" in window_change_captures(), "a capture of the new page"
    )


def test_changes_within_the_minimum_gap_give_one_capture_after_it(
    x_windows: Desktop, start_service: Callable[..., AgentService]
) -> None:
    """Switching and retitling several times within the gap captures once, when the gap has
    passed, showing where the user ended up; the windows in between are never captured."""
    editor = x_windows.spawn_xterm("Editor", "XTerm", "60x20+100+100")
    x_windows.spawn_xterm("Browser", "XTerm", "60x20+800+400")
    start_service(**{"capture.window_change_min_gap_seconds": "3"})
    x_windows.activate(editor)
    wait_for(lambda: window_change_captures() == ["Editor"], "the capture of the editor")
    for title in ("Editor — a.txt", "Editor — b.txt", "Editor — c.txt"):
        x_windows.retitle(editor, title)
    wait_for(lambda: len(window_change_captures()) >= 2, "the capture after the gap")
    assert window_change_captures() == ["Editor", "Editor — c.txt"]
    assert [e["event"] for e in audit("window-change")] == ["captured", "captured"]


def test_a_shorter_gap_applied_live_releases_the_waiting_change(
    x_windows: Desktop, start_service: Callable[..., AgentService]
) -> None:
    """With an hour's gap a second change waits; setting a short gap in the settings lets it be
    captured without restarting the agent."""
    editor = x_windows.spawn_xterm("Editor", "XTerm", "60x20+100+100")
    x_windows.spawn_xterm("Browser", "XTerm", "60x20+800+400")
    service = start_service(**{"capture.window_change_min_gap_seconds": "3600"})
    x_windows.activate(editor)
    wait_for(lambda: window_change_captures() == ["Editor"], "the first change's capture")
    x_windows.retitle(editor, "Editor — waiting")
    config = service.config
    capture = config.capture.model_copy(update={"window_change_min_gap_seconds": 0.5})
    service.apply_config(config.model_copy(update={"capture": capture}))
    wait_for(lambda: len(window_change_captures()) >= 2, "the waiting change's capture")
    assert window_change_captures() == ["Editor", "Editor — waiting"]


def test_nothing_is_captured_for_window_changes_while_paused(
    x_windows: Desktop, start_service: Callable[..., AgentService]
) -> None:
    """Paused, a window change is looked at only to be skipped with the pause as the reason."""
    editor = x_windows.spawn_xterm("Editor", "XTerm", "60x20+100+100")
    x_windows.spawn_xterm("Browser", "XTerm", "60x20+800+400")
    service = start_service()
    service.pause()
    captured = service.status().counters.captured
    x_windows.activate(editor)
    skipped = wait_for(
        lambda: [e for e in audit("window-change") if e["event"] == "skipped"],
        "the window change to be skipped",
    )
    assert skipped[0]["reasons"] == ["paused until resumed"]
    assert window_change_captures() == []
    assert service.status().counters.captured == captured
    assert service.status().state is AgentState.PAUSED


def test_turning_the_trigger_off_and_on_live(
    x_windows: Desktop, start_service: Callable[..., AgentService]
) -> None:
    """Turned off in the settings, the trigger stops watching (its thread ends); turned on
    again, focus changes are captured again, without a restart."""
    editor = x_windows.spawn_xterm("Editor", "XTerm", "60x20+100+100")
    x_windows.spawn_xterm("Browser", "XTerm", "60x20+800+400")
    service = start_service()

    def trigger(on: bool) -> None:
        config = service.config
        capture = config.capture.model_copy(update={"window_change_trigger": on})
        service.apply_config(config.model_copy(update={"capture": capture}))

    trigger(False)
    wait_for(lambda: watch_threads() == 0, "the watch to stop")
    trigger(True)
    wait_for(watch_threads, "the watch to start again")
    x_windows.activate(editor)
    wait_for(lambda: window_change_captures() == ["Editor"], "a window-change capture")


def test_without_window_events_the_active_window_is_polled(
    x_windows: Desktop,
    start_service: Callable[..., AgentService],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """On a platform that cannot report window changes, the agent looks once a second instead
    (and says so in its log): focusing another window is still captured, no event thread runs."""
    editor = x_windows.spawn_xterm("Editor", "XTerm", "60x20+100+100")
    x_windows.spawn_xterm("Browser", "XTerm", "60x20+800+400")
    platform = BarePlatform(X11Platform(x_windows.display))  # no events, as on macOS, Windows
    caplog.set_level(logging.INFO, logger="jarvis.service")
    start_service(platform)
    wait_for(lambda: "polling the active window once a second" in caplog.text, "the poll")
    x_windows.activate(editor)
    wait_for(lambda: window_change_captures() == ["Editor"], "a window-change capture")
    assert watch_threads() == 0
    platform.close()


def test_stopping_the_agent_ends_the_watch(start_service: Callable[..., AgentService]) -> None:
    """stop() returns, and the active-window watch thread (and its X connection) is gone."""
    service = start_service()
    assert watch_threads() == 1
    service.stop()
    assert watch_threads() == 0
    assert service.status().state is AgentState.STOPPED


# -- the X server going away and coming back -----------------------------------------------------


class RestartableDesktop:
    """Xvfb + openbox on a fixed display number, so a test can kill and restart the X server."""

    def __init__(self, number: int, workdir: Path) -> None:
        self.display = f":{number}"
        self.number = number
        self.workdir = workdir
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.display, "HOME": str(self.workdir)}

    def start(self) -> None:
        socket = Path(f"/tmp/.X11-unix/X{self.number}")
        xvfb = subprocess.Popen(
            ["Xvfb", self.display, "-screen", "0", "800x600x24", "-nolisten", "tcp", "-noreset"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(xvfb)
        wait_for(lambda: xvfb.poll() is None and socket.exists(), f"Xvfb on {self.display}")
        self.processes.append(
            subprocess.Popen(
                ["openbox", "--sm-disable"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        wait_for(self._managed, "openbox to manage the display")

    def _managed(self) -> bool:
        done = subprocess.run(
            ["xprop", "-root", "_NET_SUPPORTING_WM_CHECK"],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        return done.returncode == 0 and "window id" in done.stdout

    def xterm(self, title: str, geometry: str) -> Window:
        process = subprocess.Popen(
            ["xterm", "-T", title, "-geometry", geometry, "-e", "sleep", "3600"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        found = wait_for(lambda: self._search(title), f"xterm {title!r}")
        return Window(id=int(found), title=title, wm_class="XTerm", process=process)

    def _search(self, title: str) -> str:
        done = subprocess.run(
            ["xdotool", "search", "--name", f"^{title}$"],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout.split()[0] if done.stdout.split() else ""

    def activate(self, window: Window) -> None:
        subprocess.run(
            ["xdotool", "windowactivate", "--sync", str(window.id)],
            env=self.env,
            capture_output=True,
            check=True,
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes.clear()


def _free_display_number() -> int:
    for number in range(150, 400):
        if (
            not Path(f"/tmp/.X{number}-lock").exists()
            and not Path(f"/tmp/.X11-unix/X{number}").exists()
        ):
            return number
    raise RuntimeError("no free X display number between :150 and :399")


@pytest.mark.slow
def test_x_server_going_away_is_an_error_and_its_return_resumes_the_trigger(
    secret_service: SecretService,
    jarvis_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the X server dies, the agent shows the error state naming the window system; when a
    desktop is back on that display, the agent leaves the error state by itself and window
    changes are captured again."""
    del secret_service, jarvis_home
    desktop = RestartableDesktop(_free_display_number(), tmp_path)
    monkeypatch.setenv("DISPLAY", desktop.display)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    store = ConfigStore()
    for key, value in TRIGGER_SETTINGS.items():
        store.set_value(key, value)
    service = AgentService(
        store, paths=agent_paths(), control=False, sync=False, configure_logs=False
    )
    desktop.start()
    try:
        desktop.xterm("Before", "40x10+20+20")
        service.start()
        wait_for(lambda: service.status().reasons != ("starting",), "the first tick")
        wait_for(watch_threads, "the active-window watch")

        desktop.stop()
        status = wait_for(
            lambda: (s := service.status()).state is AgentState.ERROR and s, "the error state"
        )
        assert "the window system" in status.reasons[0]
        assert "X server" in status.reasons[0]

        desktop.start()
        first = desktop.xterm("After one", "40x10+20+20")
        desktop.xterm("After two", "40x10+400+300")
        wait_for(lambda: service.status().state is AgentState.CAPTURING, "the agent to recover")
        wait_for(watch_threads, "the watch to be back")
        desktop.activate(first)
        wait_for(lambda: "After one" in window_change_captures(), "a capture after the return")
    finally:
        service.stop()
        desktop.stop()
