"""The small window shown instead of a tray icon when the desktop has no tray host."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from jarvis_ui.icons import TrayState, state_icon


class StatusWindow(QWidget):
    """State, queue and the tray menu's main actions as buttons; closing it quits Jarvis."""

    closed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Jarvis")
        self.icon = QLabel(self)
        self.headline = QLabel(self)
        self.headline.setStyleSheet("font-weight: bold; font-size: 11pt;")
        self.details = QLabel(self)
        self.details.setWordWrap(True)
        self.note = QLabel(
            "No system tray was found on this desktop, so Jarvis shows this window instead. "
            "Closing it stops Jarvis.",
            self,
        )
        self.note.setWordWrap(True)
        self.note.setStyleSheet("color: palette(mid);")
        self.pause_button = QPushButton("Pause", self)
        self.capture_button = QPushButton("Capture now", self)
        self.recent_button = QPushButton("Recent captures", self)
        self.settings_button = QPushButton("Settings…", self)
        self.quit_button = QPushButton("Quit", self)

        head = QHBoxLayout()
        head.addWidget(self.icon)
        text = QVBoxLayout()
        text.addWidget(self.headline)
        text.addWidget(self.details)
        head.addLayout(text, 1)
        buttons = QHBoxLayout()
        for button in (
            self.pause_button,
            self.capture_button,
            self.recent_button,
            self.settings_button,
            self.quit_button,
        ):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addLayout(buttons)
        layout.addWidget(self.note)
        self.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint, False)

    def show_status(self, state: TrayState, headline: str, details: str, paused: bool) -> None:
        self.icon.setPixmap(state_icon(state).pixmap(48, 48))
        self.setWindowIcon(state_icon(state))
        self.headline.setText(headline)
        self.details.setText(details)
        self.pause_button.setText("Resume" if paused else "Pause")

    def closeEvent(self, event: QCloseEvent) -> None:
        self.closed.emit()
        super().closeEvent(event)
