"""The tray controller driving the real agent service on the test X desktop.

Qt runs offscreen here (no tray host), so the controller shows its fallback status window; the
agent captures from the real Xvfb screen into its real encrypted outbox (keyring-held key).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from jarvis_agent.config import ConfigStore
from jarvis_agent.paths import agent_paths
from jarvis_agent.runtime.service import AgentService
from jarvis_agent.runtime.state import AgentState
from jarvis_ui.app import TrayApp
from jarvis_ui.icons import TrayState, state_icon
from jarvis_ui.recent import RecentCapturesWindow
from jarvis_ui.tray import TrayController
from tests.support.desktop import Desktop
from tests.support.keyring import SecretService

pytestmark = [pytest.mark.x11, pytest.mark.keyring]


@pytest.fixture
def service(
    x_desktop: Desktop, secret_service: SecretService, jarvis_home: Path
) -> Iterator[AgentService]:
    """The real agent service (no server, no control socket); it captures once at start."""
    store = ConfigStore()
    # A long interval: the start-up tick is the one capture these tests need, and no tick is
    # running when the service stops (see the report on APScheduler's shutdown lock).
    store.set_value("capture.interval_seconds", "600")
    store.set_value("capture.window_change_trigger", "false")
    # Nobody types on the test desktop: by the end of a long run it has been idle past the
    # threshold and its screensaver is on, and the agent would rightly capture nothing.
    store.set_value("privacy.idle_threshold_seconds", "0")
    x_desktop.screensaver(False)
    agent = AgentService(store, paths=agent_paths(), control=False, sync=False)
    agent.start()
    yield agent
    # A resume triggers a tick; stopping while it runs deadlocks inside APScheduler's shutdown
    # (reported to the runtime engineer). Let it finish first.
    time.sleep(3)
    agent.stop()


@pytest.fixture
def controller(qtbot: QtBot, service: AgentService) -> Iterator[TrayController]:
    """The controller with its fallback status window, closed before the service stops.

    The controller owns its window and deletes it in `close()`: the window is not handed to
    qtbot, which would delete it before this fixture's teardown, while statuses still arrive.
    """
    tray = TrayController(service, service.config, use_tray=False)
    # The real hotkey path (pynput on X, xdotool key presses) is covered end to end in
    # tests/e2e; here the controller's reaction to a press is called directly.
    tray.show(bind_hotkey=False)
    assert tray.window is not None
    yield tray
    tray.close()
    qtbot.wait(10)  # the window's deferred deletion, on the GUI thread


def test_status_window_stands_in_for_a_missing_tray(
    qtbot: QtBot, controller: TrayController
) -> None:
    """Without a tray host the window shows the state, and its button pauses and resumes."""
    window = controller.window
    assert window is not None
    assert window.isVisible()
    qtbot.waitUntil(lambda: window.headline.text() == "Capturing")
    assert window.pause_button.text() == "Pause"
    window.pause_button.click()
    qtbot.waitUntil(lambda: controller.agent.status().state is AgentState.PAUSED)
    qtbot.waitUntil(lambda: window.headline.text() == "Paused until you resume")
    assert controller.state is TrayState.PAUSED
    assert window.pause_button.text() == "Resume"
    assert controller.pause_action.text() == "Resume"
    assert not controller.capture_action.isEnabled()
    window.pause_button.click()
    qtbot.waitUntil(lambda: controller.agent.status().state is AgentState.CAPTURING)
    qtbot.waitUntil(lambda: window.pause_button.text() == "Pause")


def _same_picture(one: QIcon, other: QIcon) -> bool:
    return one.pixmap(32, 32).toImage() == other.pixmap(32, 32).toImage()


def test_hotkey_toggles_and_confirms(qtbot: QtBot, controller: TrayController) -> None:
    """The hotkey pauses with a short confirmation, and pressing it again resumes.

    Each confirmation shows the icon of the state it announces: "paused" the pause icon,
    "resumed" the capturing one (not the icon of the state the press left).
    """
    qtbot.waitUntil(lambda: controller.state is TrayState.CAPTURING)
    controller.hotkey_pressed()
    qtbot.waitUntil(lambda: controller.status.paused)
    paused = controller.notices[-1]
    assert paused.title == "Jarvis paused"
    assert _same_picture(paused.icon, state_icon(TrayState.PAUSED))
    assert not _same_picture(paused.icon, state_icon(TrayState.CAPTURING))
    controller.hotkey_pressed()
    qtbot.waitUntil(lambda: not controller.status.paused)
    resumed = controller.notices[-1]
    assert resumed.title == "Jarvis resumed"
    assert _same_picture(resumed.icon, state_icon(TrayState.CAPTURING))


def test_pause_for_a_while_shows_until_when(qtbot: QtBot, controller: TrayController) -> None:
    """ "Pause for 15 minutes" pauses with an end time the menu shows."""
    controller.pause_for("15m")
    qtbot.waitUntil(lambda: controller.header.text().startswith("Paused until "))
    assert controller.status.paused_until is not None
    assert not controller.pause_menu.isEnabled()


def test_recent_captures_show_what_was_captured(
    qtbot: QtBot, controller: TrayController, service: AgentService
) -> None:
    """The recent-captures window lists the outbox's captures with thumbnails and state."""
    qtbot.waitUntil(lambda: len(service.recent_captures(10)) >= 1, timeout=60_000)
    window = RecentCapturesWindow(
        lambda: service.recent_captures(10), audit_log=agent_paths().audit_log
    )
    qtbot.addWidget(window)
    window.show()
    window.refresh()
    qtbot.waitUntil(lambda: window.list.count() >= 1)
    item = window.list.item(0)
    assert "Queued" in item.text()
    assert not item.icon().isNull()
    assert "waiting to upload" in window.summary.text()


def test_recent_captures_explain_skipped_ticks(
    qtbot: QtBot, x_windows: Desktop, controller: TrayController, service: AgentService
) -> None:
    """A tick skipped for a password manager is listed with its reason under the thumbnails."""
    x_windows.spawn_xterm("KeePassXC - Passwords.kdbx", "KeePassXC", "60x15+200+200")
    service.capture_now()
    window = RecentCapturesWindow(
        lambda: service.recent_captures(10), audit_log=agent_paths().audit_log
    )
    qtbot.addWidget(window)
    window.show()

    asked = [time.monotonic()]

    def listed() -> bool:
        lines = window.skips.text().splitlines()
        if any("skipped" in line and "KeePass" in line for line in lines):
            return True
        # A tick that meets the new window while it still settles is dropped (not skipped):
        # the agent refuses a grab the window changed under. Ask for another tick then.
        if any("dropped" in line for line in lines) and time.monotonic() - asked[0] > 1:
            asked[0] = time.monotonic()
            service.capture_now()
        if not window.loading:
            window.refresh()
        return False

    qtbot.waitUntil(listed, timeout=30_000)
    assert "Recently not captured:" in window.skips.text()
    assert "skipped" in window.skips.text()


def test_excluded_window_on_screen_is_announced_once(
    qtbot: QtBot, x_windows: Desktop, controller: TrayController, service: AgentService
) -> None:
    """A focused password manager makes the agent skip; the tray says so, once."""
    x_windows.spawn_xterm("KeePassXC - Passwords.kdbx", "KeePassXC", "60x15+200+200")
    service.capture_now()
    qtbot.waitUntil(lambda: any(t == "Excluded window on screen" for t, *_ in controller.notices))
    title, message, _ = next(n for n in controller.notices if n[0] == "Excluded window on screen")
    assert "KeePass" in message
    service.capture_now()
    qtbot.wait(500)
    assert sum(1 for t, *_ in controller.notices if t == title) == 1


def test_first_run_without_a_server_opens_the_server_tab(
    qtbot: QtBot, qapp: object, service: AgentService
) -> None:
    """With no server configured the agent still captures, and Settings opens on the Server tab."""
    assert service.config.server.url is None
    app = TrayApp(qapp, service, ConfigStore(), tray_wait=0)  # type: ignore[arg-type]
    app.start(bind_hotkey=False)
    try:
        assert app.settings is not None
        qtbot.addWidget(app.settings)
        assert app.settings.isVisible()
        assert app.settings.tabs.currentWidget() is app.settings.server
        assert app.controller.window is not None  # no tray host here: the status window
        assert "No server set" in app.controller.window.details.text()
    finally:
        app.close()


def test_plain_http_opt_in_shows_a_warning_in_the_menu(
    qtbot: QtBot, controller: TrayController, service: AgentService
) -> None:
    """With server.allow_insecure_http and an http address of another computer, the menu shows
    a warning line; back on https it is gone."""
    store = ConfigStore()
    assert not controller.insecure_action.isVisible()
    store.set_value("server.allow_insecure_http", "true")
    store.set_value("server.url", "http://192.168.1.5:8765")
    service.reload_config()
    qtbot.waitUntil(lambda: controller.insecure_action.isVisible())
    assert controller.insecure_action.text() == (
        "⚠ Unencrypted: captures go to 192.168.1.5:8765 over plain http"
    )
    store.set_value("server.url", "https://jarvis.example.com")
    service.reload_config()
    qtbot.waitUntil(lambda: not controller.insecure_action.isVisible())


@pytest.fixture
def tray_app(qtbot: QtBot, qapp: object, service: AgentService) -> Iterator[TrayApp]:
    """The tray app as `jarvis up` wires it (no tray host here), its windows opened on demand."""
    app = TrayApp(qapp, service, ConfigStore(), tray_wait=0)  # type: ignore[arg-type]
    yield app
    app.close()
    qtbot.wait(10)


def _files(*roots: Path) -> set[Path]:
    return {path for root in roots for path in root.rglob("*") if path.is_file()}


def test_recent_captures_follow_new_captures_and_say_what_happens_now(
    qtbot: QtBot, x_windows: Desktop, tray_app: TrayApp, service: AgentService
) -> None:
    """The open window lists a new capture by itself (no Refresh, no reopen), and its footer
    says the agent is capturing (it said "Not capturing now" while capturing)."""
    qtbot.waitUntil(lambda: len(service.recent_captures(10)) >= 1, timeout=60_000)
    window = tray_app.open_recent()
    qtbot.waitUntil(lambda: window.list.count() == len(service.recent_captures(60)))
    before = window.list.count()
    qtbot.waitUntil(lambda: window.skips.text() != "")
    footer = window.skips.text().splitlines()[0]
    assert footer.startswith("Capturing now"), footer
    assert "Not capturing" not in window.skips.text()
    x_windows.spawn_xterm("Quarterly notes - Editor", "Editor", "60x15+200+200")
    service.capture_now()
    qtbot.waitUntil(lambda: window.list.count() == before + 1, timeout=30_000)
    assert "Quarterly notes" in window.list.item(0).text()
    service.pause(cause="the test")
    qtbot.waitUntil(lambda: tray_app.controller.status.paused)
    qtbot.waitUntil(lambda: window.skips.text().startswith("Not capturing now: Paused"))


def test_double_click_shows_the_full_capture_decrypted_in_memory(
    qtbot: QtBot,
    tray_app: TrayApp,
    service: AgentService,
    jarvis_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Double-clicking a queued capture shows it at full size; no file is written for it."""
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))
    qtbot.waitUntil(lambda: len(service.recent_captures(10)) >= 1, timeout=60_000)
    newest = service.recent_captures(1)[0].metadata
    window = tray_app.open_recent()
    qtbot.waitUntil(lambda: window.list.count() >= 1)
    files = _files(jarvis_home)
    item = window.list.item(0)
    centre = window.list.visualItemRect(item).center()
    # A double-click as the mouse makes it: a click, then the second press the view reads.
    qtbot.mouseClick(window.list.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseDClick(window.list.viewport(), Qt.MouseButton.LeftButton, pos=centre)
    qtbot.waitUntil(lambda: window.viewer is not None and window.viewer.isVisible())
    assert window.viewer is not None
    pixmap = window.viewer.image.pixmap()
    assert (pixmap.width(), pixmap.height()) == (newest.width, newest.height)
    assert _files(jarvis_home) == files
    assert _files(private_tmp) == set()


def test_log_folder_without_a_file_manager_says_where_it_is(
    qtbot: QtBot, controller: TrayController, jarvis_home: Path
) -> None:
    """With no desktop launcher to open folders, "Open log folder" shows the folder's path and
    copies it to the clipboard on request (it used to do nothing at all)."""
    folder = str(agent_paths().log_dir)
    # Qt's offscreen platform has no URL handler at all, as a desktop without xdg-open.
    controller.logs_action.trigger()
    box = controller.log_folder_box
    assert box is not None
    qtbot.waitUntil(box.isVisible)
    assert folder in box.text()
    copy = next(b for b in box.buttons() if b.text() == "Copy path")
    copy.click()
    assert QApplication.clipboard().text() == folder
    assert box.isVisible()
    assert "clipboard" in box.informativeText()
    box.close()
