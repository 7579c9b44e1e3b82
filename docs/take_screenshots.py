"""Take the README's screenshots of the tray app on a private X desktop (Xvfb + openbox + trayer).

    uv run python docs/take_screenshots.py            # writes docs/screenshots/*.png

Everything is real: the agent service captures the private desktop into its encrypted outbox
(key in a throwaway secrets file, as `JARVIS_SECRETS_FILE` allows), the tray icon sits in
trayer's panel, and each window is rendered by Qt as a user would see it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
sys.path.insert(0, str(ROOT))

from tests.support.desktop import start_desktop, start_tray_host, stop_tray_host  # noqa: E402


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="jarvis-shots-"))
    desktop = start_desktop(1600, 900)
    host = start_tray_host(desktop)
    os.environ.update(
        {
            "DISPLAY": desktop.display,
            "JARVIS_HOME": str(workdir / "home"),
            "JARVIS_SECRETS_FILE": str(workdir / "secrets.json"),
            "QT_QPA_PLATFORM": "xcb",
        }
    )
    os.environ.pop("WAYLAND_DISPLAY", None)
    try:
        # The password manager is on screen but not focused: it is blacked out in captures.
        desktop.spawn_xterm("KeePassXC - Passwords.kdbx", "KeePassXC", "60x15+860+420")
        desktop.spawn_xterm("Quarterly report - notes", "XTerm", "100x30+120+120")
        shoot(desktop)
    finally:
        desktop.close_windows()
        stop_tray_host(host)
        desktop.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def shoot(desktop: object) -> None:
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QApplication

    from jarvis_agent.config import ConfigStore
    from jarvis_agent.paths import agent_paths
    from jarvis_agent.runtime.service import AgentService
    from jarvis_ui.app import make_application
    from jarvis_ui.presentation import capture_line
    from jarvis_ui.recent import RecentCapturesWindow
    from jarvis_ui.settings import SettingsDialog, default_backend
    from jarvis_ui.startup import wait_for_tray
    from jarvis_ui.tray import TrayController

    app = make_application()
    store = ConfigStore()
    store.set_value("server.url", "https://jarvis.example.com")
    store.set_value("capture.interval_seconds", "2")
    store.set_value("capture.jitter_seconds", "0")
    store.set_value("capture.max_gap_seconds", "1")
    store.set_value("capture.window_change_trigger", "false")
    store.set_value("privacy.idle_threshold_seconds", "86400")
    service = AgentService(store, paths=agent_paths(), control=False, sync=False)
    service.start()

    def pump(seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)

    try:
        assert wait_for_tray(app), "trayer did not provide a system tray"
        tray = TrayController(service, service.config)
        tray.show(bind_hotkey=False)
        for x in range(4):  # input now and then, as a user at work; a few captures land
            desktop.run("xdotool", "mousemove", str(300 + 100 * x), "300")  # type: ignore[attr-defined]
            pump(2)
        store.set_value("capture.interval_seconds", "15")
        store.set_value("privacy.idle_threshold_seconds", "300")
        service.apply_config(store.load())

        # The tray menu, opened under the icon, with the panel above it.
        assert tray.tray is not None
        geometry = tray.tray.geometry()
        tray.menu.popup(QPoint(geometry.right() - 220, geometry.bottom() + 2))
        pump(1)
        screen = desktop.grab()  # type: ignore[attr-defined]
        menu = tray.menu.geometry()
        screen.crop((menu.left() - 80, 0, screen.width, menu.bottom() + 12)).save(
            OUT / "tray-menu.png"
        )
        tray.menu.hide()

        dialog = SettingsDialog(default_backend(store))
        dialog.show()
        pump(1)
        dialog.privacy.test_app.setText("KeePassXC")
        for page, name in (
            (dialog.general, "settings-general"),
            (dialog.privacy, "settings-privacy"),
            (dialog.server, "settings-server"),
            (dialog.hotkey, "settings-hotkey"),
        ):
            dialog.show_page(page)
            pump(0.5)
            dialog.grab().save(str(OUT / f"{name}.png"))
        dialog.close()

        recent = RecentCapturesWindow(
            lambda: service.recent_captures(12),
            lambda: capture_line(tray.status, datetime.now(UTC)),
            audit_log=agent_paths().audit_log,
            open_image=service.capture_image,
        )
        recent.show()
        recent.refresh()
        end = time.monotonic() + 30
        while recent.loading and time.monotonic() < end:
            pump(0.1)
        pump(0.5)
        recent.grab().save(str(OUT / "recent-captures.png"))
        recent.close()
        tray.close()
    finally:
        time.sleep(3)  # let a running tick end before the scheduler stops
        service.stop()
        QApplication.processEvents()
    for path in sorted(OUT.glob("*.png")):
        print(path.relative_to(ROOT))


if __name__ == "__main__":
    main()
