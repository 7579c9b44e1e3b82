"""The settings dialog on Qt's offscreen platform, writing the real config file the CLI reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QStyle, QStyleOptionViewItem
from pytestqt.qtbot import QtBot

from jarvis_agent.capture.rules import default_rules
from jarvis_agent.config import AgentConfig, ConfigStore
from jarvis_ui.settings import SettingsBackend, SettingsDialog
from jarvis_ui.settings.privacy import ACTION, APP, MATCH, NAME, ON, TITLE, PrivacyPage


@pytest.fixture
def store(jarvis_home: Path) -> ConfigStore:
    """The config file `jarvis config` uses, in the test's private JARVIS_HOME."""
    return ConfigStore()


@pytest.fixture
def applied() -> list[AgentConfig]:
    return []


@pytest.fixture
def dialog(qtbot: QtBot, store: ConfigStore, applied: list[AgentConfig]) -> SettingsDialog:
    widget = SettingsDialog(SettingsBackend(store=store, apply_config=applied.append))
    qtbot.addWidget(widget)
    widget.show()
    return widget


def _apply(qtbot: QtBot, dialog: SettingsDialog) -> None:
    dialog.apply_button.click()
    qtbot.waitUntil(lambda: not dialog.busy)


def test_apply_writes_the_cli_config_file_and_reaches_the_agent(
    qtbot: QtBot, dialog: SettingsDialog, store: ConfigStore, applied: list[AgentConfig]
) -> None:
    """Apply writes the changed interval to the file the CLI reads and tells the agent."""
    assert not dialog.apply_button.isEnabled()
    dialog.general.interval.setValue(42)
    assert dialog.apply_button.isEnabled()
    _apply(qtbot, dialog)
    assert store.load().capture.interval_seconds == 42
    assert "interval_seconds = 42" in store.path.read_text()
    assert [c.capture.interval_seconds for c in applied] == [42]
    assert not dialog.apply_button.isEnabled()
    assert "Saved" in dialog.status.text()


def test_cancel_discards_changes_since_the_last_apply(
    qtbot: QtBot, dialog: SettingsDialog, store: ConfigStore, applied: list[AgentConfig]
) -> None:
    """Cancel closes without writing; what was applied before stays."""
    dialog.general.quality.setValue(55)
    _apply(qtbot, dialog)
    dialog.general.quality.setValue(10)
    dialog.buttons.rejected.emit()
    assert not dialog.isVisible()
    assert store.load().capture.quality == 55
    assert len(applied) == 1


def test_ok_applies_then_closes(qtbot: QtBot, dialog: SettingsDialog, store: ConfigStore) -> None:
    """OK writes the changes and closes the dialog once they are saved."""
    dialog.general.image_format.setCurrentIndex(dialog.general.image_format.findData("webp"))
    dialog.ok_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert store.load().capture.image_format == "webp"


def test_bad_url_is_reported_beside_the_field_and_nothing_is_written(
    qtbot: QtBot, dialog: SettingsDialog, store: ConfigStore
) -> None:
    """An invalid server URL gets its message under the URL field; the file is untouched."""
    dialog.general.interval.setValue(99)
    dialog.server.url.setText("ftp://example.com")
    dialog.server.url.textEdited.emit("ftp://example.com")
    dialog.ok_button.click()
    assert dialog.isVisible()
    assert dialog.tabs.currentWidget() is dialog.server
    assert "http:// or https://" in dialog.server.error_text("server.url")
    assert "Nothing was saved" in dialog.status.text()
    assert not store.path.exists()
    dialog.server.url.setText("https://jarvis.example.com/")
    _apply(qtbot, dialog)
    assert dialog.server.error_text("server.url") == ""
    assert store.load().server.url == "https://jarvis.example.com"


@pytest.mark.parametrize(
    ("field", "text", "key", "message"),
    [
        ("monitors", "first, second", "capture.monitors", "not a list of monitor numbers"),
        ("active_hours", "nine to five", "privacy.active_hours", "like 09:00-18:00"),
        ("active_hours", "09:00-18:00 on Funday", "privacy.active_hours", "not a weekday"),
        ("active_hours", "25:00-18:00", "privacy.active_hours", "time"),
    ],
)
def test_general_fields_explain_bad_values(
    qtbot: QtBot,
    dialog: SettingsDialog,
    store: ConfigStore,
    field: str,
    text: str,
    key: str,
    message: str,
) -> None:
    """Unparseable monitors or active hours are named beside the field; nothing is written."""
    getattr(dialog.general, field).setText(text)
    dialog.general.changed.emit()
    assert dialog.apply() is False
    assert message in dialog.general.error_text(key)
    assert not store.path.exists()


def test_active_hours_round_trip(qtbot: QtBot, dialog: SettingsDialog, store: ConfigStore) -> None:
    """Active hours typed as text are stored as the config's table and shown the same way."""
    dialog.general.active_hours.setText("08:30-17:00 on Mon,Tue,Wed,Thu,Fri")
    dialog.general.monitors.setText("0, 1")
    dialog.general.changed.emit()
    _apply(qtbot, dialog)
    hours = store.load().privacy.active_hours
    assert hours is not None
    assert hours.describe() == "08:30-17:00 on Mon,Tue,Wed,Thu,Fri"
    assert store.load().capture.monitors == [0, 1]
    dialog.reload()
    assert dialog.general.active_hours.text() == "08:30-17:00 on Mon,Tue,Wed,Thu,Fri"


def test_rules_can_be_added_edited_and_saved(
    qtbot: QtBot, dialog: SettingsDialog, store: ConfigStore
) -> None:
    """A rule added and edited in the table is stored in the config file with its fields."""
    page = dialog.privacy
    row = page.add_rule(None, None)
    page.set_cell(row, NAME, "Bank")
    page.set_cell(row, TITLE, "*Online Banking*")
    page.set_cell(row, ACTION, "skip")
    _apply(qtbot, dialog)
    rules = store.load().privacy.rules
    bank = [r for r in rules if r.name == "Bank"]
    assert len(bank) == 1
    assert bank[0].title == "*Online Banking*"
    assert str(bank[0].action) == "skip"
    assert len(rules) == len(default_rules()) + 1


def test_invalid_rule_is_marked_and_blocks_saving(
    qtbot: QtBot, dialog: SettingsDialog, store: ConfigStore
) -> None:
    """A broken regex or a rule without patterns is named by row; nothing is saved until fixed."""
    page = dialog.privacy
    row = page.add_rule(None, None)
    page.set_cell(row, NAME, "Broken")
    page.set_cell(row, MATCH, "regex")
    page.set_cell(row, TITLE, "([unclosed")
    assert f"Rule {row + 1}" in page.error_text("privacy.rules")
    assert "not a valid regular expression" in page.error_text("privacy.rules")
    assert dialog.apply() is False
    assert not store.path.exists()
    page.set_cell(row, TITLE, "")
    assert "neither an app nor a title" in page.error_text("privacy.rules")
    page.set_cell(row, APP, "secret-app")
    assert page.error_text("privacy.rules") == ""
    _apply(qtbot, dialog)
    assert any(r.name == "Broken" and r.app == "secret-app" for r in store.load().privacy.rules)


def test_match_tester_follows_the_edited_rules(dialog: SettingsDialog) -> None:
    """The tester says which rule matches a window, using the rules as edited (unsaved)."""
    page = dialog.privacy
    page.test_app.setText("KeePassXC")
    assert "Password manager: KeePass" in page.test_result.text()
    assert "no screenshot" in page.test_result.text()
    page.test_app.setText("firefox")
    page.test_title.setText("Bank — Mozilla Firefox Private Browsing")
    assert "blacked out" in page.test_result.text()
    page.test_app.setText("xterm")
    page.test_title.setText("Quarterly report")
    assert "would be captured" in page.test_result.text()
    row = page.add_rule(None, "*report*")
    assert page.table.item(row, NAME).text() == "Exclude *report*"
    assert "Exclude *report*" in page.test_result.text()


def test_disabled_rule_no_longer_matches(dialog: SettingsDialog) -> None:
    """Unticking a rule's box takes it out of the tester's answer."""
    page = dialog.privacy
    page.set_rules([r for r in default_rules() if "KeePass" in r.name])
    page.test_app.setText("keepassxc")
    assert "KeePass" in page.test_result.text()
    page.set_cell(0, 0, "")
    assert "would be captured" in page.test_result.text()


def test_restore_defaults_brings_back_the_shipped_rules(
    qtbot: QtBot, dialog: SettingsDialog, store: ConfigStore
) -> None:
    """After removing rules, Restore defaults puts every shipped rule back."""
    page = dialog.privacy
    page.table.selectAll()
    page.remove_selected()
    assert page.table.rowCount() == 0
    page.restore_defaults()
    assert page.table.rowCount() == len(default_rules())
    _apply(qtbot, dialog)
    assert store.load().privacy.rules == default_rules()


def test_add_from_open_windows_makes_one_rule_per_window(dialog: SettingsDialog) -> None:
    """Windows picked from the list become rules on their app name (or exact title)."""
    page = dialog.privacy
    before = page.table.rowCount()
    page.add_windows([("KeePassXC", "Passwords.kdbx"), (None, "Salary review")])
    assert page.table.rowCount() == before + 2
    assert page.table.item(before, APP).text() == "KeePassXC"
    assert page.table.item(before + 1, TITLE).text() == "Salary review"


def test_omit_titles_is_saved(qtbot: QtBot, dialog: SettingsDialog, store: ConfigStore) -> None:
    """The omit-titles box writes privacy.omit_titles."""
    dialog.privacy.omit_titles.setChecked(True)
    _apply(qtbot, dialog)
    assert store.load().privacy.omit_titles is True


def test_hotkey_is_recorded_by_pressing_it(
    qtbot: QtBot, dialog: SettingsDialog, store: ConfigStore
) -> None:
    """Record… then Ctrl+Shift+F9 stores `<ctrl>+<shift>+<f9>` and shows it readably."""
    from PySide6.QtCore import Qt

    page = dialog.hotkey
    dialog.show_page(page)
    page.record_button.click()
    qtbot.keyClick(
        page.recorder,
        Qt.Key.Key_F9,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert page.recorder.text() == "Ctrl+Shift+F9"
    _apply(qtbot, dialog)
    assert store.load().ui.pause_hotkey == "<ctrl>+<shift>+<f9>"


def test_conflicting_hotkey_is_rejected_beside_the_field(
    qtbot: QtBot, dialog: SettingsDialog, store: ConfigStore
) -> None:
    """Ctrl+C is refused with the reason shown under the recorder; nothing is written."""
    from PySide6.QtCore import Qt

    page = dialog.hotkey
    page.record_button.click()
    qtbot.keyClick(page.recorder, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert "already used for copy" in page.error_text("ui.pause_hotkey")
    assert dialog.apply() is False
    assert not store.path.exists()
    page.record_button.click()
    qtbot.keyClick(page.recorder, Qt.Key.Key_P)
    assert "would fire while you type" in page.error_text("ui.pause_hotkey")
    page.reset_button.click()
    assert page.error_text("ui.pause_hotkey") == ""


def _shown(page: PrivacyPage, row: int, column: int) -> str:
    """The text the table paints in a cell (after its delegate), not the model's value."""
    index = page.table.model().index(row, column)
    option = QStyleOptionViewItem()
    page.table.itemDelegateForIndex(index).initStyleOption(option, index)
    return str(option.text)


def test_rules_read_as_what_they_do_and_fit(qtbot: QtBot, dialog: SettingsDialog) -> None:
    """Each rule reads as words ("Firefox", "marked private (any language)"), never a
    regex cut mid-word; the pattern is in the cell's tooltip; every column fits its text."""
    dialog.show_page(dialog.privacy)
    page = dialog.privacy
    qtbot.waitUntil(lambda: page.table.isVisible())
    rows = {page.table.item(r, NAME).text(): r for r in range(page.table.rowCount())}
    firefox = rows["Private browsing: Firefox"]
    assert _shown(page, firefox, APP) == "Firefox"
    assert _shown(page, firefox, TITLE) == "marked private (any language)"
    title_tip = page.table.item(firefox, TITLE).toolTip()
    assert "Private Browsing" in title_tip
    assert "Incognito" in title_tip
    assert "firefox, librewolf" in page.table.item(firefox, APP).toolTip()
    assert _shown(page, rows["Password manager: Bitwarden"], APP) == "Bitwarden"
    vaults = rows["Password manager: web vaults"]
    assert _shown(page, vaults, APP) == "any browser"
    assert _shown(page, vaults, TITLE) == "vault page of Bitwarden, 1Password, …"
    assert "Proton Pass web vault" in page.table.item(vaults, TITLE).toolTip()
    metrics = page.table.fontMetrics()
    # Qt elides a cell's text that is wider than the cell less its text margins (QCommonStyle).
    style = page.table.style()
    margins = 2 * (style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, page.table) + 1)
    for row in range(page.table.rowCount()):
        for column in (NAME, APP, TITLE):
            text = _shown(page, row, column)
            assert "|" not in text, text
            assert "\\" not in text, text
            needed = metrics.horizontalAdvance(text) + margins
            assert needed <= page.table.columnWidth(column), (text, page.table.columnWidth(column))
    width = sum(page.table.columnWidth(c) for c in range(page.table.columnCount()))
    assert width <= page.table.viewport().width()


def test_apply_keeps_the_selected_rule_and_a_new_rule_is_shown(
    qtbot: QtBot, dialog: SettingsDialog, store: ConfigStore
) -> None:
    """After Apply the rule the user was on stays selected (not the first one, beside Remove);
    a rule added with "Add rule" is selected and scrolled into view."""
    dialog.show_page(dialog.privacy)
    page = dialog.privacy
    qtbot.waitUntil(lambda: page.table.isVisible())
    page.table.selectRow(5)
    page.set_cell(5, ON, "")
    _apply(qtbot, dialog)
    assert not store.load().privacy.rules[5].enabled
    assert page.table.currentRow() == 5
    assert {i.row() for i in page.table.selectedIndexes()} == {5}
    page.add_button.click()
    new = page.table.rowCount() - 1
    assert {i.row() for i in page.table.selectedIndexes()} == {new}
    cell = page.table.visualItemRect(page.table.item(new, NAME))
    assert page.table.viewport().rect().contains(cell), (cell, page.table.viewport().rect())
