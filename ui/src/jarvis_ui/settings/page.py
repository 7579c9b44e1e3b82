"""What every settings page shares: a form whose rows carry their own validation message.

A page maps config keys to widgets and only loads and collects them (the options themselves are
declared once, in `jarvis_agent.config`): `load(config)` fills the widgets, `collect()` returns the
values for the keys the page owns plus the problems it can see locally, and `show_error(key, msg)`
puts a message beside the field of that key. Number and choice fields take their range, choices,
help text and special values (0 = never) from the option's declaration (`number_row`,
`choice_row`), so the dialog accepts exactly what the config accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from jarvis_agent.config import AgentConfig
from jarvis_agent.config_fields import field_spec

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
        self.fields: dict[str, QWidget] = {}  # config key -> its widget
        self._shown: dict[str, tuple[float, float]] = {}  # key -> (shown, exact value loaded)
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
        self.fields[key] = field
        self.form.addRow(label, box)
        return error

    def number_row(
        self, key: str, label: str, *, suffix: str = "", decimals: int = 0
    ) -> QSpinBox | QDoubleSpinBox:
        """A spin box for the numeric option `key`: its range, help and special value text
        (shown at the minimum, e.g. "never" for 0) come from the option's declaration."""
        spec = field_spec(key)
        box: QSpinBox | QDoubleSpinBox
        if spec.kind is int:
            box, step = QSpinBox(self), 1.0
        else:
            box = QDoubleSpinBox(self)
            box.setDecimals(decimals)
            step = 10.0**-decimals
        if spec.minimum is None or spec.maximum is None:
            raise ValueError(f"{key} has no bounds to give a spin box")
        low = spec.minimum + step if spec.min_exclusive else spec.minimum
        high = spec.maximum - step if spec.max_exclusive else spec.maximum
        if isinstance(box, QSpinBox):
            box.setRange(int(low), int(high))
        else:
            box.setRange(low, high)
        special = spec.label(low)
        if special is not None:
            box.setSpecialValueText(special)
        box.setSuffix(suffix)
        self.add_row(key, label, box, spec.description)
        box.valueChanged.connect(self.changed)
        return box

    def choice_row(self, key: str, label: str, *, words: Callable[[str], str] = str) -> QComboBox:
        """A drop-down of the option's declared choices, each shown as `words(choice)`."""
        spec = field_spec(key)
        combo = QComboBox(self)
        for choice in spec.choices or ():
            combo.addItem(words(choice), choice)
        self.add_row(key, label, combo, spec.description)
        combo.currentIndexChanged.connect(self.changed)
        return combo

    def check_row(self, key: str) -> QCheckBox:
        """A check box labelled with the option's description."""
        box = QCheckBox(field_spec(key).description.rstrip("."), self)
        self.add_row(key, "", box)
        box.toggled.connect(self.changed)
        return box

    def set_number(self, key: str, value: float) -> None:
        """Show `value` in the spin box of `key` without counting as an edit."""
        box = self.fields[key]
        assert isinstance(box, QSpinBox | QDoubleSpinBox)
        blocked = box.blockSignals(True)
        if isinstance(box, QSpinBox):
            box.setValue(int(value))
        else:
            box.setValue(value)
        box.blockSignals(blocked)
        self._shown[key] = (box.value(), value)

    def number(self, key: str) -> float:
        """The value of `key`: exactly what was loaded unless the user changed it (a spin box
        rounds to its decimals, and an untouched field must not change the file)."""
        box = self.fields[key]
        assert isinstance(box, QSpinBox | QDoubleSpinBox)
        loaded = self._shown.get(key)
        return loaded[1] if loaded is not None and box.value() == loaded[0] else box.value()

    def set_choice(self, key: str, value: str) -> None:
        combo = self.fields[key]
        assert isinstance(combo, QComboBox)
        blocked = combo.blockSignals(True)
        combo.setCurrentIndex(max(0, combo.findData(value)))
        combo.blockSignals(blocked)

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
