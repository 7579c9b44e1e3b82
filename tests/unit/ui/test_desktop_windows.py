"""The tray app's windows as the real X desktop shows them: a Qt process on xcb under openbox."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.desktop import Desktop

pytestmark = pytest.mark.x11

CHILD = "tests.support.qt_windows_child"


@pytest.fixture
def windows_child(x_desktop: Desktop, jarvis_home: Path) -> Iterator[subprocess.Popen[str]]:
    """The child with Recent captures and Settings open; it warns as Qt does without fonts."""
    env = {**x_desktop.env, "QT_QPA_PLATFORM": "xcb", "JARVIS_HOME": str(jarvis_home)}
    env.pop("QT_LOGGING_RULES", None)
    child = subprocess.Popen(
        [sys.executable, "-m", CHILD, "--warn"],
        env=env,
        cwd=Path(__file__).parents[3],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if line.strip() != "ready":
        child.kill()
        _, err = child.communicate()
        pytest.fail(f"the Qt child did not start: {line!r} {err}")
    yield child
    if child.poll() is None:
        child.terminate()
        child.communicate(timeout=60)


def _titles(desktop: Desktop, pid: int) -> list[str]:
    """The titles the window manager shows (_NET_WM_NAME) of `pid`'s mapped windows."""
    titles = []
    for wid in desktop.run("xdotool", "search", "--onlyvisible", "--pid", str(pid)).split():
        titles.append(desktop.run("xdotool", "getwindowname", wid).strip())
    return titles


def test_window_titles_name_jarvis_once(
    x_desktop: Desktop, windows_child: subprocess.Popen[str]
) -> None:
    """Title bars read "Recent captures — Jarvis" and "Settings — Jarvis": Qt appends the
    application's name, so the windows' own titles must not carry it too."""
    titles = sorted(_titles(x_desktop, windows_child.pid))
    assert titles == ["Recent captures — Jarvis", "Settings — Jarvis"], titles


def test_harmless_font_warnings_stay_out_of_the_terminal(
    windows_child: subprocess.Popen[str],
) -> None:
    """Qt's font-database warnings (harmless, printed on desktops without Qt's font folder) are
    dropped; any other Qt warning still reaches stderr."""
    windows_child.terminate()
    _, err = windows_child.communicate(timeout=60)
    assert "QFontDatabase" not in err, err
    assert "a warning that is not known to be harmless" in err
