"""The tray app: the agent service in this process, the tray icon, settings and recent captures."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from PySide6.QtWidgets import QApplication, QProxyStyle, QStyle

from jarvis_agent.config import AgentConfig, ConfigStore
from jarvis_agent.paths import agent_paths
from jarvis_agent.runtime.service import AgentService, limit_malloc_arenas
from jarvis_ui.icons import TrayState, state_icon
from jarvis_ui.presentation import capture_line
from jarvis_ui.qt_messages import quiet_harmless_qt_warnings
from jarvis_ui.recent import RecentCapturesWindow
from jarvis_ui.settings import SettingsDialog, default_backend
from jarvis_ui.startup import (
    TRAY_WAIT_SECONDS,
    NoDisplayError,
    QuitRequest,
    display_problem,
    quit_on_signals,
    wait_for_tray,
)
from jarvis_ui.tray import TrayController
from jarvis_ui.workers import Worker

log = logging.getLogger(__name__)


class TrayApp:
    """Wires the service to the tray controller and opens the windows on demand."""

    def __init__(
        self,
        app: QApplication,
        service: AgentService,
        store: ConfigStore,
        *,
        tray_wait: float = TRAY_WAIT_SECONDS,
        quit_request: QuitRequest | None = None,
    ) -> None:
        self.app = app
        self.service = service
        self.store = store
        self.worker = Worker()
        self.settings: SettingsDialog | None = None
        self.recent: RecentCapturesWindow | None = None
        use_tray = wait_for_tray(app, tray_wait, quit_request=quit_request)
        if not use_tray:
            log.warning("no system tray host appeared; showing the status window instead")
        self.controller = TrayController(
            service,
            service.config,
            use_tray=use_tray,
            open_settings=self.open_settings,
            open_recent=self.open_recent,
        )

    def open_settings(self, page: str | None = None) -> SettingsDialog:
        if self.settings is None:
            self.settings = SettingsDialog(
                default_backend(self.store, self._apply_config, self.controller.hotkey.describe)
            )
        else:
            self.settings.reload()
        if page == "server":
            self.settings.show_page(self.settings.server)
        self.settings.show()
        self.settings.raise_()
        self.settings.activateWindow()
        return self.settings

    def _apply_config(self, config: AgentConfig) -> None:
        self.controller.apply_config(config)
        # The dialog has written its changes into the file; the agent takes the file as it is
        # (writing `config` again could undo what another writer saved in between).
        self.worker.submit(self.service.reload_config, lambda _: None, self._failed)

    def _failed(self, exc: BaseException) -> None:
        self.controller.notify("Settings not applied", str(exc))

    def open_recent(self) -> RecentCapturesWindow:
        if self.recent is None:
            self.recent = RecentCapturesWindow(
                lambda: self.service.recent_captures(60),
                lambda: capture_line(self.controller.status, datetime.now(UTC)),
                audit_log=agent_paths().audit_log,
                open_image=self.service.capture_image,
            )
        self.recent.show()
        self.recent.raise_()
        self.recent.refresh()
        return self.recent

    def start(self, *, bind_hotkey: bool = True) -> None:
        self.controller.show(bind_hotkey=bind_hotkey)
        if self.service.config.server.url is None:
            # First run without a server: capture into the outbox and ask where to send it.
            self.open_settings("server")

    def close(self) -> None:
        self.controller.close()
        for window in (self.settings, self.recent):
            if window is not None:
                window.close()
        self.worker.wait(10_000)


class _PlainButtons(QProxyStyle):
    """Dialog buttons without the theme's clip-art icons."""

    def styleHint(self, hint: QStyle.StyleHint, *args: Any) -> int:
        if hint is QStyle.StyleHint.SH_DialogButtonBox_ButtonsHaveIcons:
            return 0
        return int(super().styleHint(hint, *args))


def make_application() -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    quiet_harmless_qt_warnings()
    app = QApplication(sys.argv[:1])
    app.setApplicationName("Jarvis")
    app.setApplicationDisplayName("Jarvis")
    app.setDesktopFileName("jarvis")
    app.setQuitOnLastWindowClosed(False)  # the tray icon is not a window
    app.setStyle(_PlainButtons("Fusion"))  # one consistent look where no desktop theme applies
    app.setWindowIcon(state_icon(TrayState.CAPTURING))
    return app


def run_tray(*, on_started: Callable[[TrayApp], None] | None = None) -> int:
    """Run the tray app until Quit (or SIGINT/SIGTERM); returns the exit code.

    Raises NoDisplayError (no display, Wayland) and the service's start-up errors
    (AlreadyRunningError, ConfigError, ServiceError), each with a message for the user.
    """
    problem = display_problem()
    if problem is not None:
        raise NoDisplayError(problem)
    # As the headless agent does: one malloc arena for the capture and sync threads (RSS stays
    # under 100 MB). glibc's setting must come before any thread starts, Qt's included.
    limit_malloc_arenas()
    app = make_application()
    quit_request = quit_on_signals(app)
    store = ConfigStore()
    service = AgentService(store, paths=agent_paths())
    service.start()
    tray: TrayApp | None = None
    try:
        tray = TrayApp(app, service, store, quit_request=quit_request)
        tray.start()
        if on_started is not None:
            on_started(tray)
        if quit_request.requested:
            log.info("quit requested during start-up")
            return 0
        return app.exec()
    finally:
        if tray is not None:
            tray.close()
        service.stop()
