"""Chromium's private windows on X11, with real Chromium: black in the image the server stored.

On Linux, Chromium puts no private-window marker in its X11 title ("Bank statement -
Chromium"); the signals that hold are the accessible name of the window ("... (Incognito)", when
accessibility was on as Chromium started) and, for a browser started with --incognito, its
command line. Both launch modes are covered, and the normal window beside them is still captured.
Private pages are green, the normal page magenta.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from jarvis_agent.capture.pipeline import CapturePipeline, PipelineOptions
from jarvis_agent.capture.rules import ExclusionRule, default_rules, private_browser_rules
from jarvis_platform import Rect, WindowInfo
from jarvis_platform.x11 import X11Platform
from tests.support.chromium import BANK_RGB, WORK_RGB, ChromiumSession
from tests.support.desktop import Desktop, private_desktop
from tests.support.server import UploadSink

pytestmark = [pytest.mark.x11, pytest.mark.slow]


@pytest.fixture(scope="module")
def x_desktop() -> Iterator[Desktop]:
    """This module's own desktop: its pixel counts must not meet windows that earlier modules
    left on the session's shared one (in a full run they covered part of the measured area)."""
    with private_desktop() as desktop:
        yield desktop


LOSSLESS = PipelineOptions(image_format="png", agent_version="test")


@pytest.fixture
def platform(
    chromium_session: ChromiumSession, monkeypatch: pytest.MonkeyPatch
) -> Iterator[X11Platform]:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", chromium_session.bus)
    x11 = X11Platform(chromium_session.desktop.display)
    try:
        yield x11
    finally:
        x11.close()


@pytest.fixture
def sink(upload_sink: UploadSink) -> UploadSink:
    return upload_sink


def window(platform: X11Platform, wid: int) -> WindowInfo:
    return next(w for w in platform.windows() if w.id == wid)


def both_windows(session: ChromiumSession, platform: X11Platform) -> tuple[WindowInfo, WindowInfo]:
    """The window of the --incognito process and the first window of the normal one."""
    assert session.private is not None
    assert session.normal is not None
    private = session.wait_window("Bank statement - Chromium", session.private.pid)
    normal = session.wait_window("Work notes - Chromium", session.normal.pid)
    return window(platform, private), window(platform, normal)


def share(image: np.ndarray, rect: Rect, rgb: tuple[int, int, int]) -> float:
    """The share of the rectangle's pixels that have exactly this colour."""
    area = image[rect.y : rect.bottom, rect.x : rect.right]
    return float(np.all(area == rgb, axis=2).mean())


def capture_once(platform: X11Platform, sink: UploadSink, rules: list[ExclusionRule]) -> np.ndarray:
    result = CapturePipeline(platform, sink, rules=rules, options=LOSSLESS).capture(force=True)
    assert len(result.captured) == 1, result
    return sink.image(result.captured[0])


def test_window_of_a_browser_started_incognito_is_black_on_the_server(
    chromium_session: ChromiumSession, platform: X11Platform, sink: UploadSink
) -> None:
    """`chromium --incognito`: the private window is black in the stored image, the normal window
    of the other Chromium process beside it is stored as it is on screen."""
    session = chromium_session
    private, normal = both_windows(session, platform)
    assert private.title == "Bank statement - Chromium"  # no marker in the title on Linux
    on_screen = np.asarray(session.desktop.grab())
    assert share(on_screen, private.rect, BANK_RGB) > 0.5

    image = capture_once(platform, sink, default_rules())
    assert share(image, private.rect, (0, 0, 0)) == 1.0
    assert share(image, private.rect, BANK_RGB) == 0.0
    visible = normal.rect.subtract(private.rect)
    assert sum(share(image, piece, WORK_RGB) * piece.area for piece in visible) > 0.3 * sum(
        piece.area for piece in visible
    )
    assert sink.stored[0].redacted_regions >= 1


def test_private_window_opened_with_ctrl_shift_n_is_black_on_the_server(
    chromium_session: ChromiumSession, platform: X11Platform, sink: UploadSink
) -> None:
    """Ctrl+Shift+N in a normal window opens a private window of the same process (no flag on its
    command line): it is black in the stored image, found by its accessible name, while the
    normal window of that process is stored as it is."""
    session = chromium_session
    assert session.normal is not None
    normal_id = session.wait_window("Work notes - Chromium", session.normal.pid)
    private_id = session.open_private_window(normal_id)
    try:
        session.navigate(private_id, session.page("bank2", "Bank statement 2"), "Bank statement 2")
        session.desktop.run("xdotool", "windowmove", "--sync", str(private_id), "960", "20")
        session.desktop.settle(timeout=30)
        private = window(platform, private_id)
        normal = window(platform, normal_id)
        assert private.title == "Bank statement 2 - Chromium"
        assert "--incognito" not in private.process_flags
        assert any("Incognito" in name for name in private.accessible_names)
        assert not any("Incognito" in name for name in normal.accessible_names)
        assert share(np.asarray(session.desktop.grab()), private.rect, BANK_RGB) > 0.5

        image = capture_once(platform, sink, default_rules())
        assert share(image, private.rect, BANK_RGB) == 0.0
        assert share(image, private.rect, (0, 0, 0)) == 1.0
        visible = normal.rect.subtract(private.rect)
        assert sum(share(image, piece, WORK_RGB) * piece.area for piece in visible) > 0.3 * sum(
            piece.area for piece in visible
        )
    finally:
        session.close_window(private_id)


def test_strict_setting_blacks_out_browser_windows_unless_their_title_is_allowed(
    chromium_session: ChromiumSession, platform: X11Platform, sink: UploadSink
) -> None:
    """Where no signal holds, "every Chromium window is private unless its title is allowed":
    the allowed normal window is stored, the other Chromium window is black, even with the
    accessible names and command line not consulted (no default rules)."""
    session = chromium_session
    private, normal = both_windows(session, platform)
    image = capture_once(platform, sink, private_browser_rules(["Chromium"], ["Work notes*"]))
    assert share(image, private.rect, BANK_RGB) == 0.0
    visible = normal.rect.subtract(private.rect)
    assert sum(share(image, piece, WORK_RGB) * piece.area for piece in visible) > 0.3 * sum(
        piece.area for piece in visible
    )
