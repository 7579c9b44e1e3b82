"""The X11 platform against a real X server and window manager."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from jarvis_agent.platform import WindowInfo
from jarvis_agent.platform.x11 import X11Platform
from tests.support.desktop import Desktop, Window

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
    from jarvis_agent.platform import PlatformError
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
