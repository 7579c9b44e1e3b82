"""Chromium's private windows on sway (native Wayland), with real Chromium: black on the server.

The signals are those of X11 (see test_private_chromium.py), read the same way: the process's
command line from sway's pid, and the accessible name of the window, matched to it by pid and
title (a Wayland client's accessible extents are its own surface's, not the screen's). A window
of a browser started with --incognito, and a private window that a running normal browser opens
(`chromium --incognito` handed to it, as a launcher's "New Incognito window" does: no flag on
that process's command line), are black in the stored image; the normal window beside them is
stored as it is. Private pages are green, the normal page magenta.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from jarvis_agent.capture.pipeline import CapturePipeline, PipelineOptions, TickResult
from jarvis_agent.capture.rules import default_rules
from jarvis_platform import Rect, WindowInfo
from jarvis_platform.sway import SwayPlatform
from tests.support.chromium import BANK_RGB, WORK_RGB
from tests.support.chromium_sway import SwayChromium
from tests.support.server import UploadSink
from tests.support.wayland import wait_for

pytestmark = [pytest.mark.wayland, pytest.mark.slow]

LOSSLESS = PipelineOptions(image_format="png", agent_version="test")


@pytest.fixture
def platform(
    sway_chromium: SwayChromium, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SwayPlatform]:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", sway_chromium.bus)
    sway = sway_chromium.sway
    sway_platform = SwayPlatform(str(sway.ipc_socket), str(sway.wayland_socket))
    try:
        yield sway_platform
    finally:
        sway_platform.close()


def window(platform: SwayPlatform, title: str) -> WindowInfo:
    return next(w for w in platform.windows() if w.title == title)


def named(platform: SwayPlatform, title: str) -> WindowInfo:
    """The window once the accessibility bus names it (Chromium may name it after it shows)."""
    return wait_for(
        lambda: next((w for w in [window(platform, title)] if w.accessible_names), None),
        f"an accessible name for {title!r}",
    )


def share(image: np.ndarray, rect: Rect, rgb: tuple[int, int, int]) -> float:
    """The share of the rectangle's pixels that have exactly this colour."""
    area = image[rect.y : rect.bottom, rect.x : rect.right]
    return float(np.all(area == rgb, axis=2).mean())


def capture(platform: SwayPlatform, sink: UploadSink) -> TickResult:
    pipeline = CapturePipeline(platform, sink, rules=default_rules(), options=LOSSLESS)
    try:
        return pipeline.capture(force=True)
    finally:
        pipeline.close()


def capture_beside(session: SwayChromium, platform: SwayPlatform, sink: UploadSink) -> np.ndarray:
    """The stored image with the normal window focused. While a private window has the focus,
    nothing is stored: sway lists no popups, so its menus could not be blacked out."""
    assert not capture(platform, sink).captured
    session.sway.command('[title="^Work notes - Chromium$"]', "focus")
    wait_for(lambda: session.sway.view("Work notes - Chromium")["focused"], "the normal window")
    session.sway.settle()
    result = capture(platform, sink)
    assert len(result.captured) == 1, result
    return sink.image(result.captured[0])


def test_window_of_a_browser_started_incognito_is_black_on_the_server(
    sway_chromium: SwayChromium, platform: SwayPlatform, upload_sink: UploadSink
) -> None:
    """`chromium --incognito` on Wayland: its window is found by its command line and its
    accessible name, and is black in the stored image; the normal window beside it is stored."""
    session = sway_chromium
    private = named(platform, "Bank statement - Chromium")
    normal = named(platform, "Work notes - Chromium")
    assert "--incognito" in private.process_flags
    assert "--incognito" not in normal.process_flags
    assert any("Incognito" in name for name in private.accessible_names)
    assert not any("Incognito" in name for name in normal.accessible_names)

    session.sway.command('[title="^Bank statement - Chromium$"]', "focus")
    image = capture_beside(session, platform, upload_sink)
    assert share(image, private.rect, (0, 0, 0)) == 1.0
    assert share(image, private.rect, BANK_RGB) == 0.0
    assert share(image, normal.rect, WORK_RGB) > 0.5
    assert upload_sink.stored[0].redacted_regions >= 1


def test_private_window_of_a_normal_browser_is_black_on_the_server(
    sway_chromium: SwayChromium, platform: SwayPlatform, upload_sink: UploadSink
) -> None:
    """A private window opened by the running normal browser (same process, no --incognito on
    its command line) is found by its accessible name alone and is black in the stored image,
    while that process's normal window is stored as it is."""
    session = sway_chromium
    assert session.normal is not None
    title = "Bank statement 2 - Chromium"
    session.start("--incognito", session.page("bank2", "Bank statement 2"), profile="normal")
    try:
        session.wait_view(title, session.normal.pid)
        session.sway.settle()
        private = named(platform, title)
        normal = named(platform, "Work notes - Chromium")
        assert private.pid == normal.pid
        assert "--incognito" not in private.process_flags
        assert any("Incognito" in name for name in private.accessible_names)
        assert not any("Incognito" in name for name in normal.accessible_names)

        image = capture_beside(session, platform, upload_sink)
        assert share(image, private.rect, (0, 0, 0)) == 1.0
        assert share(image, private.rect, BANK_RGB) == 0.0
        assert share(image, normal.rect, WORK_RGB) > 0.5
    finally:
        session.close_view(title)
