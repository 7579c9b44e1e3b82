"""The X11 platform against a real X server and window manager."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from jarvis_platform import (
    ActiveWindow,
    ActiveWindowEvents,
    PlatformError,
    WindowInfo,
    WindowWatch,
)
from jarvis_platform.x11 import X11Platform
from tests.support.desktop import Desktop, Window, start_desktop

pytestmark = pytest.mark.x11


@pytest.fixture
def platform(x_windows: Desktop) -> Iterator[X11Platform]:
    x11 = X11Platform(x_windows.display)
    try:
        yield x11
    finally:
        x11.close()


def find(platform: X11Platform, window: Window) -> WindowInfo:
    return next(w for w in platform.windows() if w.id == window.id)


def test_windows_report_app_title_pid_frame_and_stacking(
    x_windows: Desktop, platform: X11Platform
) -> None:
    """Each window has its WM_CLASS class, WM_NAME title, pid, framed rect, and stacking order."""
    first = x_windows.spawn_xterm("First", "AppOne", "40x10+100+120")
    second = x_windows.spawn_xterm("Second", "AppTwo", "40x10+600+520")
    found = platform.windows()
    ours = [w for w in found if w.id in (first.id, second.id)]
    assert [w.app_name for w in ours] == ["AppOne", "AppTwo"]
    assert [w.title for w in ours] == ["First", "Second"]
    assert [w.pid for w in ours] == [first.process.pid, second.process.pid]
    one, two = ours
    assert one.stacking < two.stacking
    assert (one.active, two.active) == (False, True)
    # openbox places the frame at the requested position; the title bar adds to the height.
    assert (one.rect.x, one.rect.y) == (100, 120)
    assert one.rect.height > 10 * 13  # 10 text rows plus the frame's title bar
    x_windows.activate(first)
    assert platform.active_window() == find(platform, first)
    assert find(platform, first).stacking > find(platform, second).stacking


def test_titles_follow_renames_in_any_script(x_windows: Desktop, platform: X11Platform) -> None:
    """A renamed window reports its new title, including non-Latin text and xterm's own encoding."""
    window = x_windows.spawn_xterm("Bank — Mozilla Firefox", "firefox", "40x10+100+100")
    assert find(platform, window).title == "Bank — Mozilla Firefox"  # COMPOUND_TEXT WM_NAME
    x_windows.retitle(window, "Банк — Mozilla Firefox (Приватный просмотр)")
    assert find(platform, window).title == "Банк — Mozilla Firefox (Приватный просмотр)"


def test_minimized_window_is_hidden_and_moves_are_seen(
    x_windows: Desktop, platform: X11Platform
) -> None:
    """Minimizing marks a window hidden; moving it changes its rectangle."""
    window = x_windows.spawn_xterm("Mover", "XTerm", "40x10+100+100")
    x_windows.move(window, 400, 300)
    moved = find(platform, window)
    assert not moved.hidden
    assert (moved.rect.x, moved.rect.y) == (400, 300)
    x_windows.minimize(window)
    assert find(platform, window).hidden


def test_idle_time_grows_without_input_and_resets_on_input(
    x_windows: Desktop, platform: X11Platform
) -> None:
    """Seconds since the last input grow while nobody types, and drop after a mouse move."""
    x_windows.run("xdotool", "mousemove", "10", "10")
    time.sleep(0.6)
    before = platform.idle_seconds()
    assert before is not None
    assert before >= 0.5
    x_windows.run("xdotool", "mousemove", "200", "200")
    after = platform.idle_seconds()
    assert after is not None
    assert after < before


def test_x_screensaver_on_counts_as_locked(x_windows: Desktop, platform: X11Platform) -> None:
    """While the X server's screensaver is active the session counts as locked, and not after."""
    assert not platform.is_locked()
    x_windows.screensaver(active=True)
    try:
        assert platform.is_locked()
    finally:
        x_windows.screensaver(active=False)
    assert not platform.is_locked()


def test_one_platform_instance_follows_windows_opening_moving_and_closing(
    x_windows: Desktop, platform: X11Platform
) -> None:
    """The same platform object (which caches between reads) sees every change as it happens."""
    first = x_windows.spawn_xterm("Alpha", "XTerm", "40x10+100+100")
    assert find(platform, first).title == "Alpha"
    second = x_windows.spawn_xterm("Beta", "XTerm", "40x10+700+100")
    ours = [w.id for w in platform.windows() if w.id in (first.id, second.id)]
    assert ours == [first.id, second.id]
    assert find(platform, second).active
    x_windows.move(first, 300, 400)
    assert (find(platform, first).rect.x, find(platform, first).rect.y) == (300, 400)
    x_windows.retitle(first, "Alpha renamed")
    assert find(platform, first).title == "Alpha renamed"
    x_windows.activate(first)
    assert platform.active_window() == find(platform, first)
    x_windows.close(second)
    assert second.id not in [w.id for w in platform.windows()]


@pytest.mark.slow
def test_x_server_going_away_is_a_platform_error() -> None:
    """When the X server dies, reading windows fails with a PlatformError naming the X server."""
    from jarvis_platform import PlatformError
    from tests.support.desktop import start_desktop

    desktop = start_desktop(640, 480)
    try:
        x11 = X11Platform(desktop.display)
        x11.windows()
    finally:
        desktop.stop()
    with pytest.raises(PlatformError, match="X server"):
        x11.windows()
    x11.close()


# -- active-window events -------------------------------------------------------------------------

_WAIT = 30.0  # bound for a broken watch; a working one reports within milliseconds


def until(predicate: Callable[[], object], what: str, timeout: float = _WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


class Reports:
    """What a watch reported, in order, from its own thread."""

    def __init__(self) -> None:
        self.changes: list[ActiveWindow] = []
        self.errors: list[PlatformError] = []
        self.threads: set[str] = set()

    def change(self, window: ActiveWindow) -> None:
        self.threads.add(threading.current_thread().name)
        self.changes.append(window)

    def error(self, error: PlatformError) -> None:
        self.errors.append(error)

    @property
    def last(self) -> ActiveWindow | None:
        return self.changes[-1] if self.changes else None


@pytest.fixture
def watched(platform: X11Platform) -> Iterator[tuple[WindowWatch, Reports]]:
    reports = Reports()
    assert isinstance(platform, ActiveWindowEvents)
    watch = platform.watch_active_window(reports.change, on_error=reports.error)
    assert watch is not None
    try:
        yield watch, reports
    finally:
        watch.stop()


def test_watch_reports_focus_changes_and_retitles_of_the_focused_window(
    x_windows: Desktop, platform: X11Platform
) -> None:
    """Focusing a window, then renaming it, is reported as it happens, from the watch's own
    thread; renaming a window in the background is not a change of the active window."""
    editor = x_windows.spawn_xterm("Editor", "XTerm", "40x10+100+100")
    browser = x_windows.spawn_xterm("Browser", "XTerm", "40x10+600+100")
    reports = Reports()
    watch = platform.watch_active_window(reports.change, on_error=reports.error)
    assert watch is not None
    try:
        until(lambda: reports.last == ActiveWindow(browser.id, "Browser"), "the starting window")
        x_windows.activate(editor)
        until(lambda: reports.last == ActiveWindow(editor.id, "Editor"), "the focus change")
        x_windows.retitle(browser, "Browser, renamed in the background")
        x_windows.retitle(editor, "Editor — notes.txt")
        until(lambda: reports.last == ActiveWindow(editor.id, "Editor — notes.txt"), "the rename")
        x_windows.activate(browser)
        until(
            lambda: reports.last == ActiveWindow(browser.id, "Browser, renamed in the background"),
            "the focus going back",
        )
    finally:
        watch.stop()
    # openbox hands the focus over through "no window" (id None), a change of its own.
    assert [change.id for change in reports.changes if change.id is not None] == [
        browser.id,
        editor.id,
        editor.id,
        browser.id,
    ]
    assert reports.threads == {"jarvis-x11-window-watch"}
    assert reports.errors == []


def test_watch_survives_the_focused_window_closing(
    x_windows: Desktop, watched: tuple[WindowWatch, Reports]
) -> None:
    """Closing the focused window (its id becomes invalid under the watch) does not end the
    watch: it follows the focus to the next window and keeps reporting."""
    watch, reports = watched
    survivor = x_windows.spawn_xterm("Survivor", "XTerm", "40x10+100+100")
    doomed = x_windows.spawn_xterm("Doomed", "XTerm", "40x10+600+100")
    until(lambda: reports.last == ActiveWindow(doomed.id, "Doomed"), "the doomed window")
    # Renamed and closed at once: the watch reads the title of a window that is already gone.
    x_windows.retitle(doomed, "Doomed, renamed")
    x_windows.close(doomed)
    x_windows.activate(survivor)
    until(lambda: reports.last == ActiveWindow(survivor.id, "Survivor"), "the survivor's focus")
    x_windows.retitle(survivor, "Survivor, still watched")
    until(lambda: reports.last == ActiveWindow(survivor.id, "Survivor, still watched"), "rename")
    assert watch.alive
    assert reports.errors == []


def test_stopping_the_watch_ends_its_thread_and_its_reports(
    x_windows: Desktop, watched: tuple[WindowWatch, Reports]
) -> None:
    """stop() returns once the watch thread has ended; later focus changes are not reported."""
    watch, reports = watched
    first = x_windows.spawn_xterm("First", "XTerm", "40x10+100+100")
    second = x_windows.spawn_xterm("Second", "XTerm", "40x10+600+100")
    until(lambda: reports.last == ActiveWindow(second.id, "Second"), "the first report")
    watch.stop()
    assert not watch.alive
    assert "jarvis-x11-window-watch" not in {t.name for t in threading.enumerate()}
    seen = len(reports.changes)
    x_windows.activate(first)
    assert len(reports.changes) == seen
    watch.stop()  # a second stop is harmless


@pytest.mark.slow
def test_watch_reports_the_x_server_going_away_and_ends() -> None:
    """When the X server dies, the watch calls its error callback once with a PlatformError naming
    the X server, and its thread ends (no busy loop on a dead socket)."""
    desktop = start_desktop(640, 480)
    reports = Reports()
    try:
        x11 = X11Platform(desktop.display)
        watch = x11.watch_active_window(reports.change, on_error=reports.error)
        assert watch is not None
        until(lambda: reports.changes, "the first report")
    finally:
        desktop.stop()
    until(lambda: not watch.alive, "the watch thread to end")
    assert len(reports.errors) == 1
    assert "lost the connection to the X server" in str(reports.errors[0])
    watch.stop()
    x11.close()


def test_watch_on_a_display_that_is_not_there_is_refused_clearly() -> None:
    """Watching a display nobody serves fails at once with a PlatformError naming the display."""
    from jarvis_platform.x11_watch import X11ActiveWindowWatch

    with pytest.raises(PlatformError, match=r"cannot open the X display ':987'"):
        X11ActiveWindowWatch(":987", lambda _: None, on_error=lambda _: None)
