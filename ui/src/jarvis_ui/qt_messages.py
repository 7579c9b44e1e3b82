"""Qt's own warnings, minus the known-harmless ones that would flood the user's terminal.

Some desktops (bundles without Qt's font folder, minimal containers) make Qt warn about its font
database at every start and on every new font, although fontconfig serves the fonts and nothing
looks wrong. Exactly those messages are dropped; every other message is printed as Qt would.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QMessageLogContext, QtMsgType, qInstallMessageHandler

# Prefixes of messages known to be harmless; nothing else is ever dropped.
HARMLESS = (
    "QFontDatabase: Cannot find font directory",
    "QFontDatabase: Cannot find font file",
)


def is_harmless(message: str) -> bool:
    return message.startswith(HARMLESS)


def _handler(kind: QtMsgType, _context: QMessageLogContext, message: str) -> None:
    if kind in (QtMsgType.QtDebugMsg, QtMsgType.QtInfoMsg, QtMsgType.QtWarningMsg) and (
        is_harmless(message)
    ):
        return
    print(message, file=sys.stderr, flush=True)


def quiet_harmless_qt_warnings() -> None:
    """Install the filter for this process (once, before the QApplication is made)."""
    qInstallMessageHandler(_handler)
