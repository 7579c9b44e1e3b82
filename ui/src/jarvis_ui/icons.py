"""The tray icon for each agent state, drawn with QPainter so it is crisp at every panel size.

Each state has its own colour *and* its own shape, so it stays readable for colour-blind users;
a thin contrasting rim keeps each shape visible on both light and dark panels.
"""

from __future__ import annotations

from enum import Enum
from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

# The sizes panels ask for (GNOME, KDE, XFCE, trayer, HiDPI at 2x).
ICON_SIZES = (16, 22, 24, 32, 48, 64)


class TrayState(Enum):
    """What the tray icon shows, in order of precedence (the first that applies wins)."""

    ATTENTION = "attention"  # auth required, disk full, an error the user must act on
    PAUSED = "paused"
    IDLE = "idle"  # idle past the threshold, screen locked, or outside active hours
    OFFLINE = "offline"  # the server is unreachable; captures wait in the outbox
    SYNCING = "syncing"  # a backlog is being uploaded
    CAPTURING = "capturing"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    TrayState.ATTENTION: "Needs attention",
    TrayState.PAUSED: "Paused",
    TrayState.IDLE: "Idle",
    TrayState.OFFLINE: "Offline (captures queued)",
    TrayState.SYNCING: "Syncing backlog",
    TrayState.CAPTURING: "Capturing",
}

# Fill colours, chosen to differ in lightness as well as hue.
FILL = {
    TrayState.CAPTURING: QColor("#e5352b"),
    TrayState.PAUSED: QColor("#f5a623"),
    TrayState.IDLE: QColor("#8b939e"),
    TrayState.OFFLINE: QColor("#596575"),
    TrayState.SYNCING: QColor("#2f7df6"),
    TrayState.ATTENTION: QColor("#ffc400"),
}
_RIM_DARK = QColor(20, 20, 24, 230)
_WHITE = QColor("#ffffff")
_INK = QColor("#1b1b1f")


def render_icon(state: TrayState, size: int) -> QImage:
    """The icon for `state` as a transparent `size` x `size` image."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    # Draw on a 32-unit canvas and let the painter scale, so proportions hold at every size.
    painter.scale(size / 32.0, size / 32.0)
    _DRAW[state](painter)
    painter.end()
    return image


@cache
def state_icon(state: TrayState) -> QIcon:
    """A QIcon holding the state's image at every common panel size (needs a QGuiApplication)."""
    icon = QIcon()
    for size in ICON_SIZES:
        icon.addPixmap(QPixmap.fromImage(render_icon(state, size)))
    return icon


def _disc(painter: QPainter, fill: QColor) -> None:
    painter.setPen(QPen(_RIM_DARK, 1.6))
    painter.setBrush(fill)
    painter.drawEllipse(QRectF(1.5, 1.5, 29.0, 29.0))


def _capturing(painter: QPainter) -> None:
    # The universal "recording" mark: a red dot, set in a white disc so it reads on any panel.
    _disc(painter, _WHITE)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(FILL[TrayState.CAPTURING])
    painter.drawEllipse(QRectF(6.0, 6.0, 20.0, 20.0))


def _paused(painter: QPainter) -> None:
    _disc(painter, FILL[TrayState.PAUSED])
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(_INK)
    painter.drawRoundedRect(QRectF(10.0, 8.5, 4.5, 15.0), 1.0, 1.0)
    painter.drawRoundedRect(QRectF(17.5, 8.5, 4.5, 15.0), 1.0, 1.0)


def _idle(painter: QPainter) -> None:
    # A crescent moon: the agent is asleep (idle, locked or outside active hours).
    _disc(painter, FILL[TrayState.IDLE])
    moon = QPainterPath()
    moon.addEllipse(QRectF(8.0, 7.0, 17.0, 17.0))
    bite = QPainterPath()
    bite.addEllipse(QRectF(13.0, 4.0, 15.0, 15.0))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(_WHITE)
    painter.drawPath(moon.subtracted(bite))


def _syncing(painter: QPainter) -> None:
    _disc(painter, FILL[TrayState.SYNCING])
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(_WHITE)
    head = QPolygonF([QPointF(16.0, 6.5), QPointF(24.0, 15.0), QPointF(8.0, 15.0)])
    painter.drawPolygon(head)
    painter.drawRect(QRectF(13.5, 14.0, 5.0, 10.5))


def _cloud() -> QPainterPath:
    cloud = QPainterPath()
    cloud.setFillRule(Qt.FillRule.WindingFill)  # overlapping puffs fill as one shape
    cloud.addEllipse(QRectF(6.0, 13.0, 9.0, 9.0))
    cloud.addEllipse(QRectF(10.5, 8.5, 11.0, 11.0))
    cloud.addEllipse(QRectF(17.0, 12.0, 9.0, 9.0))
    cloud.addRoundedRect(QRectF(8.0, 15.5, 16.0, 7.0), 3.0, 3.0)
    return cloud.simplified()


def _offline(painter: QPainter) -> None:
    # A struck-through cloud: the server is out of reach, captures wait in the outbox.
    _disc(painter, FILL[TrayState.OFFLINE])
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(_WHITE)
    painter.drawPath(_cloud())
    painter.setPen(QPen(FILL[TrayState.OFFLINE], 5.5, c=Qt.PenCapStyle.RoundCap))
    painter.drawLine(QPointF(8.5, 7.5), QPointF(24.5, 24.5))
    painter.setPen(QPen(_WHITE, 2.2, c=Qt.PenCapStyle.RoundCap))
    painter.drawLine(QPointF(8.5, 7.5), QPointF(24.5, 24.5))


def _attention(painter: QPainter) -> None:
    # A warning triangle: a different silhouette from every other state.
    triangle = QPolygonF([QPointF(16.0, 2.0), QPointF(30.5, 28.5), QPointF(1.5, 28.5)])
    painter.setPen(QPen(_RIM_DARK, 1.6, j=Qt.PenJoinStyle.RoundJoin))
    painter.setBrush(FILL[TrayState.ATTENTION])
    painter.drawPolygon(triangle)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(_INK)
    painter.drawRoundedRect(QRectF(14.0, 9.5, 4.0, 11.0), 1.2, 1.2)
    painter.drawEllipse(QRectF(13.8, 22.0, 4.4, 4.4))


_DRAW = {
    TrayState.CAPTURING: _capturing,
    TrayState.PAUSED: _paused,
    TrayState.IDLE: _idle,
    TrayState.OFFLINE: _offline,
    TrayState.SYNCING: _syncing,
    TrayState.ATTENTION: _attention,
}
