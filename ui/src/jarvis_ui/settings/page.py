"""What every settings page shares: a form whose rows carry their own validation message.

A page maps config keys to widgets and only loads and collects them (the options themselves are
declared once, in `jarvis_agent.config`): `load(config)` fills the widgets, `collect()` returns the
values for the keys the page owns plus the problems it can see locally, and `show_error(key, msg)`
puts a message beside the field of that key.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QCheckBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from jarvis_agent.config import AgentConfig

ERROR_STYLE = "color: #c62828;"


class ErrorLabel(QLabel):
    """The red line under a field; empty and hidden while the field is fine."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet(ERROR_STYLE)
        self.setWordWrap(True)
        self.hide()

    def set_error(self, message: str | None) -> None:
        self.setText(message or "")
        self.setVisible(bool(message))


class SettingsPage(QWidget):
    """Base of the dialog's tabs; `changed` fires on every edit so Apply can light up."""

    changed = Signal()
    title = ""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._errors: dict[str, ErrorLabel] = {}
        self._outer = QVBoxLayout(self)
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._outer.addLayout(self.form)

    # layout helpers

    def add_row(self, key: str, label: str, field: QWidget, help_text: str = "") -> ErrorLabel:
        """A labelled field with its error line (and an optional grey hint) beneath it."""
        box = QWidget(self)
        column = QVBoxLayout(box)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        if isinstance(field, QLineEdit | QCheckBox):
            column.addWidget(field)
        else:  # spin boxes and choices keep their natural width
            column.addWidget(field, 0, Qt.AlignmentFlag.AlignLeft)
        if help_text:
            hint = QLabel(help_text, box)
            hint.setWordWrap(True)
            hint.setStyleSheet("color: palette(mid);")
            column.addWidget(hint)
        error = ErrorLabel(box)
        error.setObjectName(f"error:{key}")
        column.addWidget(error)
        self._errors[key] = error
        self.form.addRow(label, box)
        return error

    def error_label(self, key: str) -> ErrorLabel:
        """The error line of `key`, created at the bottom of the page if the page has no row."""
        if key not in self._errors:
            error = ErrorLabel(self)
            error.setObjectName(f"error:{key}")
            self._outer.addWidget(error)
            self._errors[key] = error
        return self._errors[key]

    # the contract with the dialog

    def owns(self, key: str) -> bool:
        """Whether errors for the dotted config key `key` belong on this page."""
        return key in self._errors

    def show_error(self, key: str, message: str) -> None:
        self.error_label(key).set_error(message)

    def clear_errors(self) -> None:
        for label in self._errors.values():
            label.set_error(None)

    def error_text(self, key: str) -> str:
        """The message shown beside `key` ('' when none): what a user reads."""
        label = self._errors.get(key)
        return label.text() if label is not None and label.isVisibleTo(self) else ""

    def load(self, config: AgentConfig) -> None:
        raise NotImplementedError

    def collect(self) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        """({section: {key: value}}, {dotted key: problem}) for the keys this page owns."""
        raise NotImplementedError
