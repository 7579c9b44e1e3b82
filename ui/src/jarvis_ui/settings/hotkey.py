"""The Hotkey tab: record the pause combination by pressing it."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFocusEvent, QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QWidget

from jarvis_agent.config import AgentConfig
from jarvis_agent.config_fields import field_spec
from jarvis_ui.settings.page import SettingsPage
from jarvis_ui.shortcut import (
    DEFAULT_HOTKEY,
    display_hotkey,
    format_hotkey,
    hotkey_problem,
    normalize_hotkey,
)

_MODIFIER_KEYS = {
    Qt.Key.Key_Control,
    Qt.Key.Key_Alt,
    Qt.Key.Key_AltGr,
    Qt.Key.Key_Shift,
    Qt.Key.Key_Meta,
    Qt.Key.Key_Super_L,
    Qt.Key.Key_Super_R,
}

QT_NAMED_KEYS = {
    Qt.Key.Key_Space: "space",
    Qt.Key.Key_Tab: "tab",
    Qt.Key.Key_Return: "enter",
    Qt.Key.Key_Enter: "enter",
    Qt.Key.Key_Escape: "esc",
    Qt.Key.Key_Backspace: "backspace",
    Qt.Key.Key_Delete: "delete",
    Qt.Key.Key_Insert: "insert",
    Qt.Key.Key_Home: "home",
    Qt.Key.Key_End: "end",
    Qt.Key.Key_PageUp: "page_up",
    Qt.Key.Key_PageDown: "page_down",
    Qt.Key.Key_Up: "up",
    Qt.Key.Key_Down: "down",
    Qt.Key.Key_Left: "left",
    Qt.Key.Key_Right: "right",
    Qt.Key.Key_Pause: "pause",
    Qt.Key.Key_Print: "print_screen",
    Qt.Key.Key_ScrollLock: "scroll_lock",
    Qt.Key.Key_Menu: "menu",
}


def combination_from_key(key: int, modifiers: Qt.KeyboardModifier) -> str | None:
    """A Qt key press as a pynput combination, or None for a lone modifier or an unusable key."""
    qkey = Qt.Key(key)
    if qkey in _MODIFIER_KEYS:
        return None
    if (
        Qt.Key.Key_A.value <= key <= Qt.Key.Key_Z.value
        or Qt.Key.Key_0.value <= key <= Qt.Key.Key_9.value
    ):
        name = chr(key).lower()
    elif Qt.Key.Key_F1.value <= key <= Qt.Key.Key_F20.value:
        name = f"f{key - Qt.Key.Key_F1.value + 1}"
    elif qkey in QT_NAMED_KEYS:
        name = QT_NAMED_KEYS[qkey]
    else:
        return None
    mods = []
    if modifiers & Qt.KeyboardModifier.ControlModifier:
        mods.append("ctrl")
    if modifiers & Qt.KeyboardModifier.AltModifier:
        mods.append("alt")
    if modifiers & Qt.KeyboardModifier.ShiftModifier:
        mods.append("shift")
    if modifiers & Qt.KeyboardModifier.MetaModifier:
        mods.append("cmd")
    return format_hotkey(mods, name)


class HotkeyRecorder(QLineEdit):
    """Shows the combination; while focused, the next key press *is* the new combination."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.spec = DEFAULT_HOTKEY
        self._recording = False

    def set_spec(self, spec: str) -> None:
        self.spec = spec
        try:
            self.setText(display_hotkey(spec))
        except ValueError:
            self.setText(spec)

    def start_recording(self) -> None:
        self._recording = True
        self.setText("Press the new combination…")
        self.setFocus(Qt.FocusReason.OtherFocusReason)

    @property
    def recording(self) -> bool:
        return self._recording

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self._recording:
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
                self.start_recording()
                return
            super().keyPressEvent(event)
            return
        combo = combination_from_key(event.key(), event.modifiers())
        if combo is None:
            if Qt.Key(event.key()) not in _MODIFIER_KEYS:
                self.setText("That key cannot be a hotkey; try letters, digits or F-keys")
            return  # keep waiting for the main key
        self._recording = False
        self.set_spec(combo)
        self.textChanged.emit(self.text())

    def focusOutEvent(self, event: QFocusEvent) -> None:
        if self._recording:
            self._recording = False
            self.set_spec(self.spec)
        super().focusOutEvent(event)


class HotkeyPage(SettingsPage):
    title = "Hotkey"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.recorder = HotkeyRecorder(self)
        self.record_button = QPushButton("Record…", self)
        self.record_button.clicked.connect(self.recorder.start_recording)
        self.reset_button = QPushButton("Use the default (Ctrl+Alt+P)", self)
        self.reset_button.clicked.connect(self._reset)
        self.add_row(
            "ui.pause_hotkey",
            "Pause / resume",
            self.recorder,
            f"{field_spec('ui.pause_hotkey').description} Click Record…, then press the "
            "combination.",
        )
        self.recorder.setMaximumWidth(320)
        buttons = QHBoxLayout()
        buttons.addWidget(self.record_button)
        buttons.addWidget(self.reset_button)
        buttons.addStretch(1)
        self.form.addRow("", buttons)
        # Which mechanism carries the hotkey on this desktop (X11, sway binding, KDE, none), or
        # what to do; filled by the dialog from the tray's hotkey (read off the GUI thread).
        self.mechanism = QLabel("", self)
        self.mechanism.setObjectName("hotkey-mechanism")
        self.mechanism.setWordWrap(True)
        self.mechanism.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.form.addRow("", self.mechanism)
        self.recorder.textChanged.connect(self._check)

    def _reset(self) -> None:
        self.recorder.set_spec(DEFAULT_HOTKEY)
        self._check()

    def _check(self) -> None:
        if self.recorder.recording:
            return
        self.show_error("ui.pause_hotkey", hotkey_problem(self.recorder.spec) or "")
        self.changed.emit()

    def load(self, config: AgentConfig) -> None:
        self.recorder.set_spec(config.ui.pause_hotkey)

    def set_mechanism(self, text: str) -> None:
        """Show how the hotkey works here (e.g. "Pause hotkey: sway binding Ctrl+Alt+P ...")."""
        self.mechanism.setText(text)

    def collect(self) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
        problem = hotkey_problem(self.recorder.spec)
        if problem is not None:
            return {}, {"ui.pause_hotkey": problem}
        return {"ui": {"pause_hotkey": normalize_hotkey(self.recorder.spec)}}, {}
