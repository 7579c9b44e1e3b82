"""A real native Wayland Qt window for tests: one filled window, optionally with an open popup.

    QT_QPA_PLATFORM=wayland python tests/support/wayland_client.py --app-id KeePassXC \
        --title "Passwords" --color ff0000 --size 400x300 [--popup X,Y,W,H]

The popup is a Qt::ToolTip window (an xdg_popup without a grab; a menu is one with a grab,
which needs an input serial a headless seat never gives) at X,Y relative to the window, filled
with the same colour, opened once the window is shown. Runs until terminated.
"""

from __future__ import annotations

import argparse
import signal
import sys

from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QWidget


def _filled(color: str, flags: Qt.WindowType | None = None) -> QWidget:
    widget = QWidget(None, flags) if flags is not None else QWidget()
    palette = widget.palette()
    palette.setColor(QPalette.ColorRole.Window, QColor(f"#{color}"))
    widget.setPalette(palette)
    widget.setAutoFillBackground(True)
    return widget


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app-id", required=True)
    parser.add_argument("--title", required=True)
    parser.add_argument("--color", default="ff0000")
    parser.add_argument("--size", default="400x300")
    parser.add_argument("--popup", help="X,Y,W,H relative to the window")
    args = parser.parse_args()
    QGuiApplication.setDesktopFileName(args.app_id)  # the xdg_toplevel app_id on Wayland
    app = QApplication(sys.argv[:1])
    signal.signal(signal.SIGTERM, lambda *_: app.quit())
    tick = QTimer()
    tick.start(200)  # let Python run its signal handlers
    tick.timeout.connect(lambda: None)
    window = _filled(args.color)
    window.setWindowTitle(args.title)
    width, height = (int(v) for v in args.size.split("x"))
    window.resize(width, height)
    window.show()
    popups: list[QWidget] = []
    if args.popup:
        x, y, w, h = (int(v) for v in args.popup.split(","))

        def open_popup() -> None:
            popup = _filled(args.color, Qt.WindowType.ToolTip)
            popup.setParent(window, Qt.WindowType.ToolTip)
            popup.resize(w, h)
            popup.move(window.mapToGlobal(window.rect().topLeft()) + QPoint(x, y))
            popup.show()
            popups.append(popup)

        QTimer.singleShot(500, open_popup)
    app.exec()


if __name__ == "__main__":
    main()
