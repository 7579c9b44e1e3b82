"""The test desktop itself: real windows appear where and as asked, and the tray host runs."""

from __future__ import annotations

import pytest

from tests.support.desktop import Desktop, TrayHost

pytestmark = pytest.mark.x11


def test_xterm_window_is_managed_focused_and_painted(x_windows: Desktop) -> None:
    """A spawned xterm is managed by openbox, focused, and its background colour is on screen."""
    window = x_windows.spawn_xterm(
        "Fixture check", "FixtureCheck", "40x10+100+100", background="red"
    )
    assert x_windows.active_window() == window.id
    assert window.id in x_windows.client_windows()
    pixel = x_windows.grab().getpixel((200, 180))
    assert pixel == (255, 0, 0)


def test_tray_host_owns_the_system_tray(tray_host: TrayHost) -> None:
    """trayer is running on the session display, so a tray icon has a host."""
    assert tray_host.process.poll() is None
