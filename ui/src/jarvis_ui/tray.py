"""The tray icon, its menu and the pause hotkey, driven by the agent's status.

The agent calls back on its own threads; the application's inbox carries each status to the GUI
thread, where `status_changed` is emitted.
Every agent command runs on a worker, so a click never waits on capture, disk or network.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, NamedTuple

from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QIcon
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox, QSystemTrayIcon, QWidget

from jarvis_agent.config import AgentConfig
from jarvis_agent.durations import parse_pause_until
from jarvis_agent.paths import agent_paths
from jarvis_agent.runtime.state import AgentStatus
from jarvis_ui.agent import AgentControl
from jarvis_ui.hotkey import HotkeyBridge
from jarvis_ui.icons import TrayState, state_icon
from jarvis_ui.presentation import headline, tooltip, transport_warning, tray_state
from jarvis_ui.status_window import StatusWindow
from jarvis_ui.workers import Worker, inbox

log = logging.getLogger(__name__)

# How long the server may be out of reach before the user is told (brief outages are normal).
OFFLINE_NOTICE_AFTER = timedelta(minutes=15)
NOTICE_MS = 4000


def _now() -> datetime:
    return datetime.now(UTC)


class Notice(NamedTuple):
    """One desktop notification as shown: its title, its text and the icon beside them."""

    title: str
    message: str
    icon: QIcon


class TrayController(QObject):
    """Owns the tray icon (or the fallback status window), the menu and the hotkey."""

    status_changed = Signal(object)

    def __init__(
        self,
        agent: AgentControl,
        config: AgentConfig,
        *,
        use_tray: bool = True,
        open_settings: Callable[[], object] | None = None,
        open_recent: Callable[[], object] | None = None,
        clock: Callable[[], datetime] = _now,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.agent = agent
        self.config = config
        self.clock = clock
        self.worker = Worker(self)
        self._open_settings = open_settings
        self._open_recent = open_recent
        self._status: AgentStatus = agent.status()
        self._shown_state: TrayState | None = None
        self._offline_since: datetime | None = None
        self._offline_told = False
        self._rule_told = False
        self._evicted = self._status.sync.evicted
        self.notices: list[Notice] = []  # what was shown, newest last
        self.log_folder_box: QMessageBox | None = None

        self.menu = QMenu()
        self.header = self.menu.addAction("Jarvis")
        self.header.setEnabled(False)
        # Shown only while the opt-in sends captures over plain http to another computer.
        self.insecure_action = self.menu.addAction("")
        self.insecure_action.setEnabled(False)
        self.insecure_action.setVisible(False)
        self.menu.addSeparator()
        self.pause_action = self._action("Pause", lambda: self.toggle_pause())
        self.pause_menu = self.menu.addMenu("Pause for")
        for label, text in (
            ("15 minutes", "15m"),
            ("1 hour", "1h"),
            ("Until tomorrow", "until tomorrow"),
        ):
            action = self.pause_menu.addAction(label)
            action.triggered.connect(lambda _=False, t=text: self.pause_for(t))
        self.capture_action = self._action("Capture now", self.capture_now)
        self.sync_action = self._action("Sync now", self.sync_now)
        self.menu.addSeparator()
        self.recent_action = self._action("Recent captures…", self.show_recent)
        self.settings_action = self._action("Settings…", self.show_settings)
        self.logs_action = self._action("Open log folder", self.open_logs)
        self.menu.addSeparator()
        self.quit_action = self._action("Quit", self.quit)

        self.tray: QSystemTrayIcon | None = None
        self.window: StatusWindow | None = None
        if use_tray:
            self.tray = QSystemTrayIcon(self)
            self.tray.setContextMenu(self.menu)
            self.tray.activated.connect(self._activated)
        else:
            self.window = StatusWindow()
            self.window.pause_button.clicked.connect(
                lambda _=False: self.toggle_pause("the status window")
            )
            self.window.capture_button.clicked.connect(self.capture_now)
            self.window.recent_button.clicked.connect(self.show_recent)
            self.window.settings_button.clicked.connect(self.show_settings)
            self.window.quit_button.clicked.connect(self.quit)
            self.window.closed.connect(self.quit)

        self.hotkey = HotkeyBridge(self)
        self.hotkey.activated.connect(self.hotkey_pressed)
        self.hotkey.failed.connect(lambda message: self.notify("Pause hotkey", message))
        self.status_changed.connect(self._show_status)
        # The agent calls back on its threads. Those threads get only the inbox and a key, never
        # this object: a reference held there could outlive `close()`, and the last reference
        # dropped on an agent thread would destroy the menu and timers there.
        box = inbox()
        self._status_key = box.register(self.status_changed.emit)
        self._unsubscribe = agent.subscribe(partial(box.post, self._status_key))
        # Relative times in the tooltip ("5 min ago") age even when nothing else changes.
        self._tick = QTimer(self)
        self._tick.timeout.connect(lambda: self._show_status(self._status))
        self._tick.start(30_000)

    def _action(self, text: str, slot: Callable[[], None]) -> QAction:
        action = self.menu.addAction(text)
        action.triggered.connect(slot)
        return action

    # start and stop

    def show(self, *, bind_hotkey: bool = True) -> None:
        """Show the icon (or the status window) and start listening for the pause hotkey."""
        self._show_status(self.agent.status())
        if self.tray is not None:
            self.tray.show()
            # Some tray hosts drop a tooltip set before the icon was embedded.
            self.tray.setToolTip(tooltip(self._status, self.clock()))
        if self.window is not None:
            self.window.show()
        if bind_hotkey:
            self.hotkey.bind(self.config.ui.pause_hotkey)

    def close(self) -> None:
        """Stop listening to the agent and the hotkey, hide the icon and delete the window.

        Call it before the service stops; statuses still in flight are dropped.
        """
        self.hotkey.unbind()
        self._tick.stop()
        self._unsubscribe()
        inbox().unregister(self._status_key)
        if self.tray is not None:
            self.tray.hide()
        window, self.window = self.window, None
        if window is not None:
            window.closed.disconnect(self.quit)
            window.close()
            window.deleteLater()

    # status

    @property
    def status(self) -> AgentStatus:
        return self._status

    @property
    def state(self) -> TrayState:
        return tray_state(self._status)

    def _show_status(self, status: object) -> None:
        assert isinstance(status, AgentStatus)
        self._status = status
        now = self.clock()
        state = tray_state(status)
        text = headline(status, now)
        tip = tooltip(status, now)
        if state is not self._shown_state:
            icon = state_icon(state)
            self.header.setIcon(icon)
            if self.tray is not None:
                self.tray.setIcon(icon)
            self._notify_transition(self._shown_state, state, status)
            self._shown_state = state
        if self.tray is not None:
            self.tray.setToolTip(tip)
        self.header.setText(text)
        warning = transport_warning(status)
        self.insecure_action.setText(f"⚠ {warning}" if warning else "")
        self.insecure_action.setVisible(warning is not None)
        paused = status.paused
        self.pause_action.setText("Resume" if paused else "Pause")
        self.pause_action.setIcon(state_icon(TrayState.CAPTURING if paused else TrayState.PAUSED))
        self.pause_menu.setEnabled(not paused)
        self.capture_action.setEnabled(not paused)
        self.sync_action.setEnabled(status.sync.server_url is not None)
        if self.window is not None:
            self.window.show_status(state, text, "\n".join(tip.splitlines()[1:]), paused)
        self._watch_offline(status, now)
        self._watch_privacy_and_disk(status)

    def _notify_transition(
        self, before: TrayState | None, after: TrayState, status: AgentStatus
    ) -> None:
        if after is TrayState.ATTENTION and before is not TrayState.ATTENTION:
            self.notify("Jarvis needs attention", headline(status, self.clock()))

    def _watch_offline(self, status: AgentStatus, now: datetime) -> None:
        if status.sync.state != "offline":
            self._offline_since, self._offline_told = None, False
            return
        if self._offline_since is None:
            self._offline_since = now
        if not self._offline_told and now - self._offline_since >= OFFLINE_NOTICE_AFTER:
            self._offline_told = True
            minutes = int((now - self._offline_since).total_seconds() // 60)
            self.notify(
                "Server unreachable",
                f"Jarvis could not reach the server for {minutes} minutes; "
                f"{status.sync.queued} captures are kept safely in the outbox.",
            )

    def _watch_privacy_and_disk(self, status: AgentStatus) -> None:
        # Once per session: show that an excluded window was found, so the user sees the rules work.
        rule_reason = next((r for r in status.reasons if "rule" in r), None)
        if rule_reason is not None and not self._rule_told:
            self._rule_told = True
            self.notify("Excluded window on screen", rule_reason[:1].upper() + rule_reason[1:])
        if status.sync.evicted > self._evicted:
            dropped = status.sync.evicted - self._evicted
            self.notify(
                "Outbox full",
                f"The outbox reached its size limit: {dropped} oldest capture"
                f"{'s were' if dropped != 1 else ' was'} dropped. Connect to the server or raise "
                "outbox.max_bytes.",
            )
        self._evicted = status.sync.evicted

    def notify(self, title: str, message: str, state: TrayState | None = None) -> None:
        """A short desktop notification (only errors and changes the user asked for).

        `state` is the state the notice announces (its icon is shown); by default the current one.
        """
        icon = state_icon(self.state if state is None else state)
        self.notices.append(Notice(title, message, icon))
        log.info("notice: %s: %s", title, message)
        if not self.config.ui.notifications:
            return
        if self.tray is not None and self.tray.supportsMessages():
            self.tray.showMessage(title, message, icon, NOTICE_MS)

    # actions (each runs the agent call on a worker)

    def _run(self, what: str, call: Callable[[], Any]) -> None:
        self.worker.submit(
            call, lambda _: None, lambda exc: self.notify(f"{what} failed", str(exc))
        )

    def toggle_pause(self, cause: str = "the tray menu") -> None:
        if self._status.paused:
            self._run("Resume", lambda: self.agent.resume(cause=cause))
        else:
            self._run("Pause", lambda: self.agent.pause(cause=cause))

    def hotkey_pressed(self) -> None:
        """The global hotkey: toggle, and confirm briefly (the user may not see the icon)."""
        combo = self.hotkey.shown or "the hotkey"
        # The notice announces the state the press leads to, so it carries that state's icon
        # (the status still shows the state before the press).
        if self._status.paused:
            self.notify("Jarvis resumed", f"Capturing again. {combo} pauses.", TrayState.CAPTURING)
        else:
            self.notify(
                "Jarvis paused",
                f"Nothing is captured until you press {combo} again.",
                TrayState.PAUSED,
            )
        self.toggle_pause(cause="the hotkey")

    def pause_for(self, text: str) -> None:
        until = parse_pause_until(text)
        self._run("Pause", lambda: self.agent.pause(until, cause="the tray menu"))

    def capture_now(self) -> None:
        self._run("Capture now", self.agent.capture_now)

    def sync_now(self) -> None:
        self._run("Sync now", self.agent.sync_now)

    def show_settings(self) -> None:
        if self._open_settings is not None:
            self._open_settings()

    def show_recent(self) -> None:
        if self._open_recent is not None:
            self._open_recent()

    def open_logs(self) -> None:
        """Open the log folder in the file manager; without one, say where it is (copyable)."""
        folder = agent_paths().log_dir
        if QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            return
        log.info("no file manager opened %s; showing its path", folder)
        box = QMessageBox(self.window)
        box.setWindowTitle("Log folder")
        box.setIcon(QMessageBox.Icon.Information)
        box.setText(f"No file manager could open the log folder. It is here:\n\n{folder}")
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        copy = box.addButton("Copy path", QMessageBox.ButtonRole.ActionRole)
        box.addButton(QMessageBox.StandardButton.Close)
        # An action button would close the box; copying keeps it open and says it worked.
        copy.clicked.disconnect()
        copy.clicked.connect(lambda: self._copy_path(box, str(folder)))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.log_folder_box = box
        box.show()

    def _copy_path(self, box: QMessageBox, path: str) -> None:
        QApplication.clipboard().setText(path)
        box.setInformativeText("The path is on the clipboard.")

    def apply_config(self, config: AgentConfig) -> None:
        """New settings from the dialog: rebind the hotkey if it changed."""
        old, self.config = self.config, config
        if config.ui.pause_hotkey != old.ui.pause_hotkey:
            self.hotkey.bind(config.ui.pause_hotkey)

    def quit(self) -> None:
        app = QApplication.instance()
        if app is not None:
            app.quit()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        # A left click shows the menu too: many panels only forward clicks, not context menus.
        if reason is QSystemTrayIcon.ActivationReason.Trigger and self.tray is not None:
            geometry = self.tray.geometry()
            self.menu.popup(geometry.bottomLeft())

    def parent_widget(self) -> QWidget | None:
        return self.window
