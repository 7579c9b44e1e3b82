"""Recent captures: thumbnails of the last captures in the outbox, with their state.

The outbox is encrypted; the service decrypts thumbnails in memory. Loading and decoding happen
on a worker thread (QImage is safe there, QPixmap is not); only the finished rows reach the GUI.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from jarvis_ui.workers import Worker

THUMB = QSize(240, 135)
STATE_WORDS = {
    "queued": "Queued — waiting to upload",
    "sent": "Sent to the server",
    "dead": "Refused by the server (kept, not retried)",
}


@dataclass(frozen=True, slots=True)
class CaptureRow:
    """One capture as the window shows it."""

    image: QImage
    title: str
    detail: str
    state: str


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def build_rows(captures: Sequence[Any]) -> list[CaptureRow]:
    """Turn the service's recent captures into rows (runs on the worker thread)."""
    rows = []
    for capture in captures:
        meta = getattr(capture, "metadata", capture)
        state = str(getattr(capture, "state", "") or "")
        state = getattr(state, "value", state)
        image = QImage()
        data = getattr(capture, "thumbnail", None)
        if isinstance(data, bytes | bytearray) and data:
            image.loadFromData(bytes(data))
        if not image.isNull():
            image = image.scaled(
                THUMB,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
        captured_at = getattr(meta, "captured_at", None)
        when = (
            captured_at.astimezone().strftime("%H:%M:%S")
            if isinstance(captured_at, datetime)
            else ""
        )
        app = _text(getattr(meta, "app_name", None))
        title = _text(getattr(meta, "window_title", None))
        window = " — ".join(part for part in (app, title) if part) or "(window hidden)"
        detail = [STATE_WORDS.get(str(state), str(state))]
        width, height = getattr(meta, "width", None), getattr(meta, "height", None)
        if width and height:
            detail.append(f"{width}×{height}")
        redacted = getattr(meta, "redacted_regions", 0) or 0
        if redacted:
            detail.append(f"{redacted} window{'s' if redacted != 1 else ''} blacked out")
        rows.append(CaptureRow(image, f"{when}  {window}".strip(), " · ".join(detail), str(state)))
    return rows


AUDIT_TAIL_BYTES = 256 * 1024


def recent_skips(audit_log: Path, limit: int = 6) -> list[str]:
    """The newest ticks that stored nothing, from the agent's audit log, newest first.

    Reads only the file's tail; runs on the worker thread.
    """
    try:
        with audit_log.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - AUDIT_TAIL_BYTES))
            tail = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    lines: list[str] = []
    for raw in reversed(tail.splitlines()):
        try:
            entry = json.loads(raw)
        except ValueError:
            continue  # the first line of the tail may be cut in half
        if not isinstance(entry, dict) or entry.get("event") not in ("skipped", "dropped"):
            continue
        when = entry.get("at", "")
        try:
            clock = datetime.fromisoformat(str(when)).astimezone().strftime("%H:%M:%S")
        except ValueError:
            clock = ""
        reasons = "; ".join(str(r) for r in entry.get("reasons", []) if r) or "no reason given"
        lines.append(f"{clock}  {entry['event']}: {reasons}")
        if len(lines) >= limit:
            break
    return lines


def _placeholder() -> QImage:
    image = QImage(THUMB, QImage.Format.Format_RGB32)
    image.fill(QColor("#3a3f47"))
    painter = QPainter(image)
    painter.setPen(QColor("#c8ccd2"))
    painter.drawText(image.rect(), Qt.AlignmentFlag.AlignCenter, "no preview")
    painter.end()
    return image


class RecentCapturesWindow(QWidget):
    """A list of the last captures; Refresh reloads it off the GUI thread."""

    def __init__(
        self,
        load: Callable[[], Sequence[Any]],
        reasons: Callable[[], Sequence[str]] | None = None,
        parent: QWidget | None = None,
        *,
        audit_log: Path | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Jarvis — Recent captures")
        self._load = load
        self._reasons = reasons
        self._audit_log = audit_log
        self.worker = Worker(self)
        self.loading = False
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.list = QListWidget(self)
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setIconSize(THUMB)
        self.list.setGridSize(QSize(THUMB.width() + 28, THUMB.height() + 76))
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setWordWrap(True)
        self.skips = QLabel(self)
        self.skips.setWordWrap(True)
        self.skips.setStyleSheet("color: palette(mid);")
        self.refresh_button = QPushButton("Refresh", self)
        self.refresh_button.clicked.connect(self.refresh)
        bottom = QHBoxLayout()
        bottom.addWidget(self.skips, 1)
        bottom.addWidget(self.refresh_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.list, 1)
        layout.addLayout(bottom)
        self.resize(900, 640)

    def refresh(self) -> None:
        if self.loading:
            return
        self.loading = True
        self.refresh_button.setEnabled(False)
        self.summary.setText("Loading…")
        load, audit = self._load, self._audit_log

        def read() -> tuple[list[CaptureRow], list[str]]:
            return build_rows(load()), recent_skips(audit) if audit is not None else []

        self.worker.submit(read, self._loaded, self._failed)

    def _loaded(self, result: object) -> None:
        self.loading = False
        self.refresh_button.setEnabled(True)
        assert isinstance(result, tuple)
        rows, skips = result
        self.list.clear()
        placeholder: QPixmap | None = None
        for row in rows:
            if row.image.isNull():
                placeholder = placeholder or QPixmap.fromImage(_placeholder())
                icon = QIcon(placeholder)
            else:
                icon = QIcon(QPixmap.fromImage(row.image))
            item = QListWidgetItem(icon, f"{row.title}\n{row.detail}")
            item.setToolTip(f"{row.title}\n{row.detail}")
            item.setData(Qt.ItemDataRole.UserRole, row.state)
            self.list.addItem(item)
        queued = sum(1 for row in rows if row.state == "queued")
        self.summary.setText(
            f"The last {len(rows)} captures, newest first; {queued} waiting to upload. "
            "This is exactly what leaves this computer."
            if rows
            else "No captures yet."
        )
        reasons = list(self._reasons()) if self._reasons is not None else []
        lines = ["Not capturing now: " + "; ".join(reasons)] if reasons else []
        if skips:
            lines.append("Recently not captured:")
            lines += [f"  {line}" for line in skips]
        self.skips.setText("\n".join(lines))

    def _failed(self, exc: BaseException) -> None:
        self.loading = False
        self.refresh_button.setEnabled(True)
        self.summary.setText(f"Could not read the outbox: {exc}")
