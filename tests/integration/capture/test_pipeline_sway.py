"""The capture pipeline on a real headless sway: real Wayland and Xwayland windows, real frames.

Excluded windows are filled red (foot, a Qt window, an Xwayland xterm), so a leaked pixel of
theirs is unmistakable; the tests count red pixels in the encoded (lossless PNG) images, on one
output and on scaled and two-output layouts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest

from jarvis_agent.capture.rules import ExclusionRule
from jarvis_platform import ActiveWindow, PlatformError, UnsupportedSessionError, check_session
from jarvis_platform.sway import SwayPlatform
from tests.support.capture import (
    GREEN,
    RED,
    VAULT,
    Sink,
    after_policy,
    assert_race_drops_the_tick,
    capture,
    count,
)
from tests.support.wayland import Sway, wait_for

pytestmark = pytest.mark.wayland


@pytest.fixture
def platform(sway: Sway) -> Iterator[SwayPlatform]:
    sway_platform = SwayPlatform(str(sway.ipc_socket), str(sway.wayland_socket))
    try:
        yield sway_platform
    finally:
        sway_platform.close()


def focus(sway: Sway, title: str) -> None:
    sway.command(f'[title="^{title}$"]', "focus")
    wait_for(lambda: sway.view(title)["focused"], f"{title!r} focused")
    sway.settle()


def test_excluded_wayland_window_is_black_and_the_others_intact(
    sway: Sway, platform: SwayPlatform
) -> None:
    """A native Wayland password manager (foot, app_id KeePassXC) is blacked out to the last
    pixel, title bar included, while the focused normal window is captured whole."""
    sway.spawn_foot("KeePassXC", VAULT)
    sway.spawn_foot("notes", "notes", background="00ff00")
    focus(sway, "notes")
    sink, result = capture(platform)
    [image] = sink.images()
    assert count(image, RED) == 0
    assert count(image, GREEN) > 0.4 * 1920 * 1080
    assert not result.dropped
    assert sink.items[0][0].window_title == "notes"


def test_excluded_xwayland_window_is_black(sway: Sway, platform: SwayPlatform) -> None:
    """An X11 app through Xwayland counts as a window: its class KeePassXC is blacked out."""
    sway.spawn_xterm("KeePassXC", VAULT)
    sway.spawn_foot("notes", "notes", background="00ff00")
    focus(sway, "notes")
    assert any(w.app_name == "KeePassXC" for w in platform.windows())
    sink, _ = capture(platform)
    [image] = sink.images()
    assert count(image, RED) == 0
    assert count(image, GREEN) > 0


@pytest.mark.parametrize("scale", [2.0, 1.5])
def test_excluded_window_is_black_on_a_scaled_output(
    sway: Sway, platform: SwayPlatform, scale: float
) -> None:
    """On a 1920x1080 output at scale 2 and 1.5, sway's logical rects are converted to frame
    pixels: not one red pixel, and the normal window's pixels are all there."""
    sway.set_outputs([(0, 0, 1920, 1080, scale)])
    sway.spawn_foot("KeePassXC", VAULT)
    sway.spawn_foot("notes", "notes", background="00ff00")
    sway.command(
        f'[title="^{VAULT}$"]', "floating enable, resize set 300 200, move position 100 100"
    )
    focus(sway, "notes")
    sink, _ = capture(platform)
    [image] = sink.images()
    assert image.shape[:2] == (1080, 1920)
    assert count(image, RED) == 0
    assert count(image, GREEN) > 0.3 * 1920 * 1080


def test_two_outputs_with_different_scales_and_positions(own_sway: Sway) -> None:
    """Two outputs (scale 2 at 0,0 and scale 1.5 to its right, lower): excluded windows on both,
    one of them spanning the seam, are black on every frame; normal windows stay."""
    sway = own_sway
    platform = SwayPlatform(str(sway.ipc_socket), str(sway.wayland_socket))
    sway.set_outputs([(0, 0, 1920, 1080, 2.0), (960, 200, 1920, 1080, 1.5)])
    sway.spawn_foot("notes", "notes", background="00ff00")
    sway.spawn_foot("KeePassXC", VAULT)
    sway.spawn_xterm("KeePassXC", "float: xvault")
    # The Xwayland vault floats across the seam between the outputs.
    sway.command('[title="^float: xvault$"]', "resize set 400 300, move absolute position 800 300")
    focus(sway, "notes")
    pieces = [w for w in platform.windows() if w.title == "float: xvault"]
    assert len(pieces) == 2  # one piece per output
    sink, _ = capture(platform)
    images = sink.images()
    platform.close()
    assert len(images) == 2
    for image in images:
        assert image.shape[:2] == (1080, 1920)
        assert count(image, RED) == 0
    assert count(images[0], GREEN) > 0


def _content_rows_drawn(image: np.ndarray) -> bool:
    """Whether the notes window's green content fills rows of the frame: foot has drawn."""
    green = np.all(image == GREEN, axis=2)
    return bool((green.sum(axis=1) > 0.5 * green.shape[1]).any())


def _shown_once_drawn(platform: SwayPlatform) -> Sink:
    """An unredacted tick taken once every frame shows the notes window's green content: a
    window can be mapped before its client has drawn it (seen on a loaded machine, where the
    frame had no green row at all)."""

    def drawn() -> Sink | None:
        shown, _ = capture(platform, rules=[])
        return shown if all(_content_rows_drawn(i) for i in shown.images()) else None

    result: Sink = wait_for(drawn, "the notes window's green content on every frame")
    return result


def _footprint_is_black_without_seam(shown: np.ndarray, redacted: np.ndarray) -> None:
    """Every pixel the excluded window drew (not green in the unredacted frame, within the
    notes window's green content) is black in the redacted frame; around it only green and black
    remain (no seam row or column of its border or title bar); at most one pixel is blacked
    beyond it on each side (outward rounding, not a wider cover)."""
    green = np.all(shown == GREEN, axis=2)
    rows = np.nonzero(green.sum(axis=1) > 0.5 * green.shape[1])[0]
    cols = np.nonzero(green.sum(axis=0) > 0.5 * green.shape[0])[0]
    drawn = np.zeros_like(green)
    inside = (slice(rows.min() + 4, rows.max() - 3), slice(cols.min() + 4, cols.max() - 3))
    drawn[inside] = ~green[inside]  # inside the notes window's green content
    ys, xs = np.nonzero(drawn)
    assert len(ys) > 0, "the excluded window was not on this frame"
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    box = redacted[y0:y1, x0:x1]
    assert np.all(box == 0), f"{int((box != 0).any(axis=2).sum())} pixels of it not black"
    around = redacted[y0 - 3 : y1 + 3, x0 - 3 : x1 + 3]
    black, green_around = np.all(around == 0, axis=2), np.all(around == GREEN, axis=2)
    assert np.all(black | green_around), "a seam of the window is left beside the black box"
    bys, bxs = np.nonzero(black)
    assert min(bys.min(), bxs.min()) >= 2  # at most one pixel wider than the window
    assert bys.max() <= around.shape[0] - 3
    assert bxs.max() <= around.shape[1] - 3


@pytest.mark.parametrize("position", [(400, 300), (401, 301), (433, 277)])
def test_fractional_scale_blacks_out_the_whole_window_with_no_seam(
    sway: Sway, platform: SwayPlatform, position: tuple[int, int]
) -> None:
    """At scale 1.5 a window at an odd logical place and size covers fractional pixels: the
    black box is rounded outwards, so not one row or column of the window (border, title bar,
    content) is left, and the box is at most one pixel wider than the window on each side."""
    sway.set_outputs([(0, 0, 1920, 1080, 1.5)])
    sway.spawn_foot("notes", "notes", background="00ff00")
    sway.spawn_foot("KeePassXC", VAULT)
    x, y = position
    sway.command(
        f'[title="^{VAULT}$"]', f"floating enable, resize set 301 201, move position {x} {y}"
    )
    focus(sway, "notes")
    shown = _shown_once_drawn(platform)
    redacted, _ = capture(platform)
    _footprint_is_black_without_seam(shown.images()[0], redacted.images()[0])


def test_two_scales_black_out_the_whole_window_on_each_output(own_sway: Sway) -> None:
    """Outputs at scale 2 and 1.5 (the second right of and below the first): an excluded window
    on each is blacked out whole, with no seam, on that output's frame."""
    sway = own_sway
    platform = SwayPlatform(str(sway.ipc_socket), str(sway.wayland_socket))
    try:
        sway.set_outputs([(0, 0, 1920, 1080, 2.0), (960, 200, 1920, 1080, 1.5)])
        sway.msg("focus output HEADLESS-1")
        sway.spawn_foot("notes", "notes one", background="00ff00")
        sway.spawn_foot("KeePassXC", VAULT)
        sway.command(
            f'[title="^{VAULT}$"]', "floating enable, resize set 201 151, move position 301 201"
        )
        sway.msg("focus output HEADLESS-2")
        sway.spawn_foot("notes", "notes two", background="00ff00")
        sway.spawn_xterm("KeePassXC", "float: xvault")
        sway.command(
            '[title="^float: xvault$"]', "resize set 301 201, move absolute position 1301 501"
        )
        focus(sway, "notes two")
        shown = _shown_once_drawn(platform)
        redacted, _ = capture(platform)
        for before, after in zip(shown.images(), redacted.images(), strict=True):
            _footprint_is_black_without_seam(before, after)
    finally:
        platform.close()


def test_window_moved_between_check_and_grab_drops_the_frame(
    sway: Sway, platform: SwayPlatform
) -> None:
    """An excluded window that moves after the policy ran: the frame is dropped, nothing sent."""
    sway.spawn_foot("notes", "notes", background="00ff00")
    sway.spawn_foot("KeePassXC", "float: " + VAULT)
    sway.command(f'[title="^float: {VAULT}$"]', "resize set 300 200, move absolute position 50 50")
    focus(sway, "notes")
    racing = after_policy(
        platform,
        lambda: sway.command(f'[title="^float: {VAULT}$"]', "move absolute position 900 500"),
        sway.settle,
    )
    assert_race_drops_the_tick(racing)


def test_focused_excluded_window_with_a_popup_skips_the_tick(
    sway: Sway, platform: SwayPlatform
) -> None:
    """sway's tree has no popups: with an excluded Qt window focused (its red popup hangs outside
    it), the frame is skipped with the reason; without that default the popup would leak."""
    sway.spawn_qt("KeePassXC", "float: " + VAULT, size=(400, 300), popup=(300, 200, 300, 250))
    frames = platform.frame_source()
    try:
        [monitor] = frames.monitors()
        wait_for(
            lambda: count(frames.grab(monitor).pixels[..., 2::-1].copy(), RED) > 130000,
            "the popup to be drawn",
        )
    finally:
        frames.close()
    vault = [ExclusionRule(name="Vault", app="KeePassXC")]  # black out, not skip
    sink, result = capture(platform, vault)
    assert sink.items == []
    assert "does not list its menus and popups" in result.skipped[0][1]

    # The measurement: what the policy alone (as on a desktop that lists popups) would let out.
    leaky = after_policy(platform, lambda: None, sway.settle)
    leaky.lists_popups = True
    sink, _ = capture(leaky, vault)
    leaked = count(sink.images()[0], RED)
    print(f"popup of a focused excluded window, without the skip: {leaked} red pixels")
    assert leaked > 0


def test_focus_and_title_changes_are_reported(sway: Sway, platform: SwayPlatform) -> None:
    """The window-change trigger: focusing another window and retitling it are reported."""
    sway.spawn_foot("notes", "notes", background="00ff00")
    sway.spawn_foot("other", "other", background="0000ff")
    seen: list[ActiveWindow] = []
    errors: list[PlatformError] = []
    changed = threading.Event()

    def on_change(active: ActiveWindow) -> None:
        seen.append(active)
        changed.set()

    watch = platform.watch_active_window(on_change, on_error=errors.append)
    try:
        wait_for(lambda: seen and seen[-1].title == "other", "the first report")
        focus(sway, "notes")
        wait_for(lambda: seen[-1].title == "notes", "the focus change")
        sway.msg('[title="^notes$"] title_format "renamed"')
        wait_for(lambda: seen[-1].title == "renamed" or seen[-1].title == "notes", "a title event")
    finally:
        watch.stop()
    assert not watch.alive
    assert errors == []
    assert [a.title for a in seen][:2] == ["other", "notes"]


def test_other_wayland_compositors_are_refused_naming_them() -> None:
    """A Wayland session of a compositor without a backend (weston, or one nothing names) is
    refused with the compositor named and the way out; no platform is created."""
    with pytest.raises(UnsupportedSessionError) as caught:
        check_session({"WAYLAND_DISPLAY": "wayland-0", "XDG_CURRENT_DESKTOP": "weston"}, "linux")
    assert "of weston" in str(caught.value)
    assert "Log in to a sway, Plasma (Wayland) or GNOME session" in str(caught.value)
    with pytest.raises(UnsupportedSessionError, match="an unknown compositor"):
        check_session({"XDG_SESSION_TYPE": "wayland", "DISPLAY": ":1"}, "linux")


def test_sway_session_is_chosen_from_its_environment(sway: Sway) -> None:
    """Inside sway (SWAYSOCK, WAYLAND_DISPLAY) the sway backend is chosen, above X11 through
    Xwayland's DISPLAY."""
    assert check_session(sway.env, "linux") == "sway"


def test_idle_seconds_grow_without_input_and_pointer_motion_resets_them(sway: Sway) -> None:
    """sway's idle time (org_kde_kwin_idle) reaches the 1 s step, then grows with the clock; the
    next pointer motion brings it back to 0; closing the platform ends its event thread."""
    platform = SwayPlatform(str(sway.ipc_socket), str(sway.wayland_socket))
    try:
        assert platform.idle_seconds() == 0.0  # registered now: no idle spell known yet
        first = wait_for(lambda: (platform.idle_seconds() or 0) >= 1.0, "one idle second")
        assert first
        before, start = platform.idle_seconds(), time.monotonic()
        wait_for(lambda: time.monotonic() - start >= 0.5, "half a second")
        later = platform.idle_seconds()
        assert before is not None
        assert later is not None
        assert later - before >= 0.5
        sway.msg("seat seat0 cursor move 3 3")
        wait_for(lambda: platform.idle_seconds() == 0.0, "idle time reset by pointer motion")
    finally:
        platform.close()
    assert not any(t.name == "wayland-idle" for t in threading.enumerate())
