"""The Privacy tab: the exclusion rules in an editable table, a live match tester, omit titles."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from jarvis_agent.capture.rules import (
    ExclusionRule,
    MatchType,
    RuleAction,
    default_rules,
    match_rule,
)
from jarvis_agent.config import AgentConfig
from jarvis_ui.settings.page import SettingsPage
from jarvis_ui.settings.rule_text import describe_pattern, pattern_words

RULES_KEY = "privacy.rules"
COLUMNS = ("On", "Rule", "App", "Window title", "Match", "Action")
ON, NAME, APP, TITLE, MATCH, ACTION = range(len(COLUMNS))
_BAD_CELL = QBrush(QColor("#fde0dc"))


# Returns objects with `app_name` and `title` (jarvis_platform WindowInfo).
WindowLister = Callable[[], Sequence[Any]]


def rule_error_text(exc: ValidationError) -> str:
    return "; ".join(err["msg"].removeprefix("Value error, ") for err in exc.errors())


class PatternDelegate(QStyledItemDelegate):
    """Shows a pattern cell as words (what it matches); the editor still holds the pattern."""

    def __init__(self, table: QTableWidget) -> None:
        super().__init__(table)
        self._table = table

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        combo = self._table.cellWidget(index.row(), MATCH)
        match = combo.currentText() if isinstance(combo, QComboBox) else "glob"
        option.text = describe_pattern(str(index.data() or "") or None, match)


def _lines(words: Sequence[str], width: int) -> list[str]:
    """Comma-separated words in lines of about `width` characters, never splitting one."""
    lines = [""]
    for word in words:
        candidate = f"{lines[-1]}, {word}" if lines[-1] else word
        if len(candidate) > width and lines[-1]:
            lines[-1] += ","
            lines.append(word)
        else:
            lines[-1] = candidate
    return lines


def pattern_tooltip(column: int, pattern: str, match: str) -> str:
    """The cell's whole pattern: as its words when it is a list of them, else as written."""
    what = "App" if column == APP else "Window title"
    if not pattern:
        return f"{what}: any (no pattern)"
    words = pattern_words(pattern, match)
    if words is not None and len(words) > 1:
        listed = "\n".join(_lines(words, 80))
        return f"{what} matches any of ({match}):\n{listed}\n\nDouble-click to edit the pattern."
    return f"{what} pattern ({match}):\n{pattern}\n\nDouble-click to edit it."


class WindowPicker(QDialog):
    """Lists the visible windows; the chosen ones become rules (app name exact, title any)."""

    def __init__(self, windows: Sequence[Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add from open windows")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Windows on screen now; pick the ones Jarvis must never see:"))
        self.list = QListWidget(self)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        seen: set[tuple[str | None, str | None]] = set()
        for window in windows:
            key = (window.app_name, window.title)
            if key in seen or (not window.app_name and not window.title):
                continue
            seen.add(key)
            item = QListWidgetItem(f"{window.app_name or '(unknown app)'} — {window.title or ''}")
            item.setData(Qt.ItemDataRole.UserRole, key)
            self.list.addItem(item)
        layout.addWidget(self.list)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(560, 360)

    def chosen(self) -> list[tuple[str | None, str | None]]:
        return [item.data(Qt.ItemDataRole.UserRole) for item in self.list.selectedItems()]


class PrivacyPage(SettingsPage):
    title = "Privacy"

    def __init__(
        self, list_windows: WindowLister | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._list_windows = list_windows
        self._loading = False

        intro = QLabel(
            "Windows matching a rule are never captured: <b>skip</b> takes no screenshot while "
            "the window is focused, <b>redact</b> blacks it out wherever it is. Patterns are "
            "case-insensitive; glob uses * and ?, regex searches anywhere in the text.",
            self,
        )
        intro.setWordWrap(True)
        self.form.addRow(intro)

        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        delegate = PatternDelegate(self.table)
        self.table.setItemDelegateForColumn(APP, delegate)
        self.table.setItemDelegateForColumn(TITLE, delegate)
        # Every column as wide as what it shows (patterns are shown as words, see rule_text);
        # the rule's name takes the rest, so nothing scrolls sideways.
        header = self.table.horizontalHeader()
        for column in (ON, APP, TITLE, MATCH, ACTION):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.itemChanged.connect(self._edited)
        self.form.addRow(self.table)
        self.error_label(RULES_KEY)
        self.form.addRow(self.error_label(RULES_KEY))

        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add rule", self)
        self.add_button.clicked.connect(lambda: self.select_row(self.add_rule(None, None)))
        self.pick_button = QPushButton("Add from open windows…", self)
        self.pick_button.clicked.connect(self.pick_windows)
        self.pick_button.setEnabled(list_windows is not None)
        self.remove_button = QPushButton("Remove", self)
        self.remove_button.clicked.connect(self.remove_selected)
        self.defaults_button = QPushButton("Restore defaults", self)
        self.defaults_button.clicked.connect(self.restore_defaults)
        for button in (self.add_button, self.pick_button, self.remove_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.defaults_button)
        self.form.addRow(buttons)

        tester = QGroupBox("Does this window match?", self)
        grid = QHBoxLayout(tester)
        self.test_app = QLineEdit(tester)
        self.test_app.setPlaceholderText("app name, e.g. KeePassXC")
        self.test_title = QLineEdit(tester)
        self.test_title.setPlaceholderText("window title, e.g. Bank — Private Browsing")
        grid.addWidget(self.test_app, 1)
        grid.addWidget(self.test_title, 2)
        self.test_result = QLabel(self)
        self.test_result.setWordWrap(True)
        self.test_result.setObjectName("test-result")
        self.test_app.textChanged.connect(self.update_tester)
        self.test_title.textChanged.connect(self.update_tester)
        self.form.addRow(tester)
        self.form.addRow(self.test_result)

        self.omit_titles = self.check_row("privacy.omit_titles")
        self.update_tester()

    # rows

    def _combo(self, values: Sequence[str], current: str) -> QComboBox:
        combo = QComboBox(self.table)
        combo.addItems(list(values))
        combo.setCurrentText(current)
        combo.currentIndexChanged.connect(self._edited)
        return combo

    def add_rule(
        self, app: str | None, title: str | None, rule: ExclusionRule | None = None
    ) -> int:
        """Append a row (a new rule, or `rule`); returns its row number."""
        self._loading = True
        row = self.table.rowCount()
        self.table.insertRow(row)
        if rule is None:
            base = app or title or "new window"
            rule_name = f"Exclude {base}"
            rule = ExclusionRule.model_construct(
                name=rule_name,
                app=app,
                title=title,
                match=MatchType.GLOB,
                action=RuleAction.REDACT,
                enabled=True,
            )
        on = QTableWidgetItem()
        on.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
        on.setCheckState(Qt.CheckState.Checked if rule.enabled else Qt.CheckState.Unchecked)
        self.table.setItem(row, ON, on)
        for column, text in ((NAME, rule.name), (APP, rule.app), (TITLE, rule.title)):
            item = QTableWidgetItem(text or "")
            if column == NAME:
                item.setToolTip(rule.name)
            self.table.setItem(row, column, item)
        # Patterns the table has no column for ride along with the row, kept as they were.
        hidden = {"process_flag": rule.process_flag, "except_title": rule.except_title}
        name_item = self.table.item(row, NAME)
        if name_item is not None:
            name_item.setData(Qt.ItemDataRole.UserRole, hidden)
        self.table.setCellWidget(row, MATCH, self._combo(("glob", "regex"), str(rule.match)))
        self.table.setCellWidget(row, ACTION, self._combo(("redact", "skip"), str(rule.action)))
        self._loading = False
        self._edited()
        return row

    def select_row(self, row: int) -> None:
        """Select a row and scroll it into view (a new rule is where the user looks next)."""
        self.table.selectRow(row)
        item = self.table.item(row, NAME)
        if item is not None:
            self.table.scrollToItem(item)

    def _update_tooltips(self) -> None:
        blocked = self.table.blockSignals(True)
        for row in range(self.table.rowCount()):
            match = self._row_data(row)["match"]
            for column in (APP, TITLE):
                item = self.table.item(row, column)
                if item is not None:
                    item.setToolTip(pattern_tooltip(column, item.text().strip(), match))
        self.table.blockSignals(blocked)
        self.table.viewport().update()

    def set_cell(self, row: int, column: int, value: str) -> None:
        """Edit one cell as the user would (text cells, or the Match/Action choice)."""
        widget = self.table.cellWidget(row, column)
        if isinstance(widget, QComboBox):
            widget.setCurrentText(value)
            return
        item = self.table.item(row, column)
        if item is None:
            raise IndexError(f"no cell at row {row}, column {column}")
        if column == ON:
            item.setCheckState(Qt.CheckState.Checked if value else Qt.CheckState.Unchecked)
        else:
            item.setText(value)

    def remove_selected(self) -> None:
        rows = sorted({index.row() for index in self.table.selectedIndexes()}, reverse=True)
        for row in rows:
            self.table.removeRow(row)
        if rows:
            self._edited()

    def restore_defaults(self) -> None:
        self.set_rules(default_rules())
        self._edited()

    def pick_windows(self) -> None:
        if self._list_windows is None:
            return
        picker = WindowPicker(self._list_windows(), self)
        if picker.exec() == QDialog.DialogCode.Accepted:
            self.add_windows(picker.chosen())

    def add_windows(self, chosen: Sequence[tuple[str | None, str | None]]) -> None:
        """Add a rule per chosen window: by app name when known, else by exact title."""
        for app, title in chosen:
            row = self.add_rule(app, None) if app else self.add_rule(None, title)
            self.select_row(row)

    def set_rules(self, rules: Sequence[ExclusionRule]) -> None:
        self.table.setRowCount(0)
        for rule in rules:
            self.add_rule(None, None, rule)

    def _row_data(self, row: int) -> dict[str, Any]:
        def text(column: int) -> str | None:
            item = self.table.item(row, column)
            value = item.text().strip() if item is not None else ""
            return value or None

        def choice(column: int) -> str:
            widget = self.table.cellWidget(row, column)
            return widget.currentText() if isinstance(widget, QComboBox) else ""

        on = self.table.item(row, ON)
        name_item = self.table.item(row, NAME)
        hidden = name_item.data(Qt.ItemDataRole.UserRole) if name_item is not None else None
        return {
            **(hidden if isinstance(hidden, dict) else {}),
            "name": text(NAME) or "",
            "app": text(APP),
            "title": text(TITLE),
            "match": choice(MATCH),
            "action": choice(ACTION),
            "enabled": on is not None and on.checkState() == Qt.CheckState.Checked,
        }

    def rules(self) -> tuple[list[ExclusionRule], list[str]]:
        """The rules as edited, and a message per invalid row (rows counted from 1)."""
        rules: list[ExclusionRule] = []
        problems: list[str] = []
        for row in range(self.table.rowCount()):
            try:
                rules.append(ExclusionRule.model_validate(self._row_data(row)))
                self._mark_row(row, bad=False)
            except ValidationError as exc:
                problems.append(f"Rule {row + 1}: {rule_error_text(exc)}")
                self._mark_row(row, bad=True)
        return rules, problems

    def _mark_row(self, row: int, *, bad: bool) -> None:
        blocked = self.table.blockSignals(True)
        for column in (NAME, APP, TITLE):
            item = self.table.item(row, column)
            if item is not None:
                item.setBackground(_BAD_CELL if bad else QBrush())
        self.table.blockSignals(blocked)

    def _edited(self, *_: object) -> None:
        if self._loading:
            return
        _valid, problems = self.rules()
        self._update_tooltips()
        self.show_error(RULES_KEY, "\n".join(problems))
        self.update_tester()
        self.changed.emit()

    # the tester

    def update_tester(self) -> None:
        app = self.test_app.text().strip() or None
        title = self.test_title.text().strip() or None
        if app is None and title is None:
            self.test_result.setText("Type an app name and/or a window title to test the rules.")
            return
        valid, _ = self.rules()
        rule = match_rule(valid, app, title)
        if rule is None:
            self.test_result.setText("No rule matches: this window <b>would be captured</b>.")
        elif str(rule.action) == "skip":
            self.test_result.setText(
                f"Matches <b>{rule.name}</b>: no screenshot is taken while this window is "
                "focused, and it is blacked out when it is merely visible."
            )
        else:
            self.test_result.setText(
                f"Matches <b>{rule.name}</b>: this window is blacked out in every capture."
            )

    # the contract with the dialog

    def load(self, config: AgentConfig) -> None:
        # Reloading after Apply keeps the user's place: the same row selected, the same scroll.
        current = self.table.currentRow()
        scroll = self.table.verticalScrollBar().value()
        self.set_rules(config.privacy.rules)
        self._update_tooltips()
        if 0 <= current < self.table.rowCount():
            self.table.setCurrentCell(current, NAME)
            self.table.selectRow(current)
        else:
            self.table.setCurrentCell(-1, -1)
        self.table.verticalScrollBar().setValue(scroll)
        self.show_error(RULES_KEY, "")
        blocked = self.omit_titles.blockSignals(True)
        self.omit_titles.setChecked(config.privacy.omit_titles)
        self.omit_titles.blockSignals(blocked)
        self.update_tester()

    def owns(self, key: str) -> bool:
        return key.startswith(RULES_KEY) or super().owns(key)

    def show_error(self, key: str, message: str) -> None:
        super().show_error(RULES_KEY if key.startswith(RULES_KEY) else key, message)

    def collect(self) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        rules, problems = self.rules()
        if problems:
            return {}, {RULES_KEY: "\n".join(problems)}
        privacy = {
            "rules": [rule.model_dump(mode="json") for rule in rules],
            "omit_titles": self.omit_titles.isChecked(),
        }
        return {"privacy": privacy}, {}
