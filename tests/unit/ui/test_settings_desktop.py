"""Settings that reach outside the config file: the login item and the open windows."""

from __future__ import annotations

from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from jarvis_agent.config import ConfigStore
from jarvis_ui.settings import SettingsDialog, default_backend
from jarvis_ui.settings.privacy import APP
from tests.support.desktop import Desktop


@pytest.fixture
def dialog(qtbot: QtBot, jarvis_home: Path) -> SettingsDialog:
    widget = SettingsDialog(default_backend(ConfigStore()))
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_start_at_login_writes_the_autostart_entry(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jarvis_home: Path
) -> None:
    """Ticking "Start Jarvis when I log in" and applying writes the XDG autostart entry."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    dialog = SettingsDialog(default_backend(ConfigStore()))
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.general.autostart.isEnabled())
    assert not dialog.general.autostart.isChecked()
    dialog.general.autostart.setChecked(True)
    dialog.apply_button.click()
    qtbot.waitUntil(lambda: not dialog.busy)
    entry = tmp_path / "xdg" / "autostart" / "jarvis.desktop"
    assert entry.is_file(), dialog.status.text()
    assert "Exec=" in entry.read_text()
    dialog.general.autostart.setChecked(False)
    dialog.apply_button.click()
    qtbot.waitUntil(lambda: not dialog.busy)
    assert not entry.exists() or "Hidden=true" in entry.read_text()


@pytest.mark.x11
def test_add_from_open_windows_lists_the_real_windows(
    x_windows: Desktop, dialog: SettingsDialog
) -> None:
    """The picker offers the windows on screen; picking one adds a rule on its app name."""
    x_windows.spawn_xterm("Payroll - Q3.ods", "PayrollApp", "60x10+100+100")
    backend_windows = dialog.backend.list_windows
    assert backend_windows is not None
    windows = backend_windows()
    picked = [(w.app_name, w.title) for w in windows if w.title == "Payroll - Q3.ods"]
    assert picked, [(w.app_name, w.title) for w in windows]
    page = dialog.privacy
    rows = page.table.rowCount()
    page.add_windows(picked)
    assert page.table.rowCount() == rows + 1
    assert page.table.item(rows, APP).text() == picked[0][0]
    page.test_app.setText(str(picked[0][0]))
    page.test_title.setText("Payroll - Q3.ods")
    assert "blacked out" in page.test_result.text()
