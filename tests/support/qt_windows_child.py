"""A child process for window tests on the real X desktop: the tray app's Qt application (xcb)
with its Recent captures and Settings windows open. Prints "ready" once they are shown, then
runs until it is terminated. Qt's warnings go to stderr as in `jarvis up`."""

from __future__ import annotations

import sys

from PySide6.QtCore import qWarning

from jarvis_agent.config import ConfigStore
from jarvis_ui.app import make_application
from jarvis_ui.recent import RecentCapturesWindow
from jarvis_ui.settings import SettingsDialog, default_backend


def main() -> int:
    app = make_application()
    recent = RecentCapturesWindow(list)
    settings = SettingsDialog(default_backend(ConfigStore()))
    recent.show()
    settings.show()
    app.processEvents()
    if "--warn" in sys.argv:
        # What Qt prints on desktops without its font folder, and a warning that matters.
        qWarning("QFontDatabase: Cannot find font directory /opt/jarvis/lib/fonts.")
        qWarning("QFontDatabase: Cannot find font directory /opt/jarvis/lib/fonts.")
        qWarning("qt.qpa.xcb: a warning that is not known to be harmless")
    print("ready", flush=True)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
