"""Recent captures: thumbnails of the last captures in the outbox, with their state.

The outbox is encrypted; the service decrypts thumbnails (and, on a double-click, the full image)
in memory only. Loading and decoding happen on a worker thread (QImage is safe there, QPixmap is
not); only the finished rows reach the GUI. While shown, the window re-reads the outbox every
few seconds, so new captures and state changes (queued -> sent) appear without a reopen.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QColor, QHideEvent, QIcon, QImage, QPainter, QPixmap, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
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

    capture_id: str
    image: QImage
    title: str
    detail: str
    state: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.capture_id, self.state, self.detail)


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
        capture_id = str(getattr(meta, "id", "") or "")
        rows.append(
            CaptureRow(
                capture_id, image, f"{when}  {window}".strip(), " · ".join(detail), str(state)
            )
        )
    # One line per capture: a capture read while it moved from the queue to the sent history
    # must not show twice.
    seen: set[str] = set()
    unique = []
    for row in rows:
        if row.capture_id and row.capture_id in seen:
            continue
        seen.add(row.capture_id)
        unique.append(row)
    return unique


AUDIT_TAIL_BYTES = 256 * 1024


def recent_skips(audit_log: Path, limit: int = 6) -> list[str]:
    """The newest ticks that stored nothing, from the agent's audit log, newest first.

    A run of ticks skipped for the same reasons is one line (first and last time, and how many),
    not one line per tick. Reads only the file's tail; runs on the worker thread.
    """
    try:
        with audit_log.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - AUDIT_TAIL_BYTES))
            tail = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    runs: list[tuple[str, str, str, int]] = []  # (newest clock, oldest clock, what, count)
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
        what = f"{entry['event']}: {reasons}"
        if runs and runs[-1][2] == what:
            newest, _, _, count = runs[-1]
            runs[-1] = (newest, clock, what, count + 1)
            continue
        if len(runs) >= limit:
            break
        runs.append((clock, clock, what, 1))
    lines = []
    for newest, oldest, what, count in runs:
        if count == 1:
            lines.append(f"{newest}  {what}")
        else:
            event, reasons = what.split(": ", 1)
            lines.append(f"{oldest}–{newest}  {event} ×{count}: {reasons}")
    return lines


def _placeholder() -> QImage:
    image = QImage(THUMB, QImage.Format.Format_RGB32)
    image.fill(QColor("#3a3f47"))
    painter = QPainter(image)
    painter.setPen(QColor("#c8ccd2"))
    painter.drawText(image.rect(), Qt.AlignmentFlag.AlignCenter, "no preview")
    painter.end()
    return image


SENT_NOTE = "Sent to the server: only its thumbnail is kept on this computer."
LIVE_MS = 2000  # how often a shown window re-reads the outbox


class ImageViewer(QScrollArea):
    """One capture at full size, from bytes decrypted in memory (nothing is written to disk)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowFlag(Qt.WindowType.Window)
        self.image = QLabel(self)
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setWidget(self.image)
        self.setWidgetResizable(True)
        self.resize(1200, 800)

    def show_image(self, title: str, image: QImage) -> None:
        self.setWindowTitle(title or "Capture")
        self.image.setPixmap(QPixmap.fromImage(image))
        self.show()
        self.raise_()


class RecentCapturesWindow(QWidget):
    """A list of the last captures, kept current while shown; double-click shows one in full.

    `state_line()` is one line on what the agent does now (the footer's first line);
    `open_image(capture_id)` returns a queued capture's decrypted image bytes.
    """

    def __init__(
        self,
        load: Callable[[], Sequence[Any]],
        state_line: Callable[[], str] | None = None,
        parent: QWidget | None = None,
        *,
        audit_log: Path | None = None,
        open_image: Callable[[UUID], bytes] | None = None,
        live_ms: int = LIVE_MS,
    ) -> None:
        super().__init__(parent)
        # The application's display name ("Jarvis") is appended by the desktop's title bar.
        self.setWindowTitle("Recent captures")
        self._load = load
        self._state_line = state_line
        self._audit_log = audit_log
        self._open_image = open_image
        self._keys: list[tuple[str, str, str]] | None = None
        self.worker = Worker(self)
        self.loading = False
        self.viewer: ImageViewer | None = None
        self._live = QTimer(self)
        self._live.setInterval(live_ms)
        self._live.timeout.connect(self.refresh)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.list = QListWidget(self)
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setIconSize(THUMB)
        self.list.setGridSize(QSize(THUMB.width() + 28, THUMB.height() + 76))
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setWordWrap(True)
        self.list.itemDoubleClicked.connect(self.open_item)
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

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._live.start()

    def hideEvent(self, event: QHideEvent) -> None:
        self._live.stop()
        super().hideEvent(event)

    def refresh(self) -> None:
        if self.loading:
            return
        self.loading = True
        self.refresh_button.setEnabled(False)
        if self._keys is None:
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
        self._show_footer(skips)
        keys = [row.key for row in rows]
        if keys == self._keys:
            return  # nothing changed: keep the selection and the scroll position as they are
        self._keys = keys
        selected = {item.data(Qt.ItemDataRole.UserRole + 1) for item in self.list.selectedItems()}
        scroll = self.list.verticalScrollBar().value()
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
            item.setData(Qt.ItemDataRole.UserRole + 1, row.capture_id)
            self.list.addItem(item)
            item.setSelected(row.capture_id in selected)
        self.list.verticalScrollBar().setValue(scroll)
        queued = sum(1 for row in rows if row.state == "queued")
        self.summary.setText(
            f"The last {len(rows)} captures, newest first; {queued} waiting to upload. "
            "This is exactly what leaves this computer."
            if rows
            else "No captures yet."
        )

    def _show_footer(self, skips: Sequence[str]) -> None:
        lines = [self._state_line()] if self._state_line is not None else []
        if skips:
            lines.append("Recently not captured:")
            lines += [f"  {line}" for line in skips]
        self.skips.setText("\n".join(lines))

    def _failed(self, exc: BaseException) -> None:
        self.loading = False
        self.refresh_button.setEnabled(True)
        self.summary.setText(f"Could not read the outbox: {exc}")

    # the full-size image

    def open_item(self, item: QListWidgetItem) -> None:
        """Show the capture at full size, decrypted in memory; a sent one has only its thumbnail."""
        capture_id = item.data(Qt.ItemDataRole.UserRole + 1)
        title = item.text().split("\n", 1)[0]
        if item.data(Qt.ItemDataRole.UserRole) == "sent" or not capture_id:
            self._show_image(title, item.icon().pixmap(THUMB).toImage(), SENT_NOTE)
            return
        if self._open_image is None:
            return
        read = self._open_image

        def decode() -> QImage:
            image = QImage()
            if not image.loadFromData(read(UUID(capture_id))):
                raise ValueError("the image could not be decoded")
            return image

        self.worker.submit(
            decode,
            lambda image: self._show_image(title, image, None),
            lambda exc: self.summary.setText(f"Could not open the capture: {exc}"),
        )

    def _show_image(self, title: str, image: object, note: str | None) -> None:
        assert isinstance(image, QImage)
        if self.viewer is None:
            self.viewer = ImageViewer(self)
        self.viewer.show_image(title, image)
        if note is not None:
            self.viewer.image.setToolTip(note)
            self.summary.setText(note)
