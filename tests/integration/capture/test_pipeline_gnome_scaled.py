"""The capture pipeline on a real headless GNOME Shell whose monitor is scaled.

GNOME has two ways to scale. By default (integer scales, "physical" layout) the stage is in the
monitor's own pixels and windows are drawn twice as large at scale 2. With Settings' "Fractional
Scaling" (mutter's 'scale-monitor-framebuffer', "logical" layout) the stage is in logical pixels,
1280x720 for a 1920x1080 monitor at 1.5, and the screen cast's frame is 1920x1080: every window
rect must be multiplied by the scale, rounded outwards; with two monitors of different scales
each has its own factor and its own place. Each layout gets a GNOME of its own, once for this
module. Excluded windows are red; the tests count red pixels in the lossless images the
pipeline encoded.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from jarvis_agent.capture.rules import ExclusionRule
from jarvis_platform import PlatformError
from jarvis_platform.gnome import GnomePlatform
from jarvis_platform.gnome_screencast import screencast_token_file
from tests.support.capture import GREEN, RED, VAULT, capture, count
from tests.support.gnome import Gnome, start_gnome

pytestmark = pytest.mark.gnome

LAYOUTS = {"scale 2": (2.0, False), "scale 1.5 (fractional)": (1.5, True)}


@pytest.fixture(scope="module", params=list(LAYOUTS))
def scaled_session(request: pytest.FixtureRequest) -> Iterator[tuple[Gnome, float]]:
    scale, logical = LAYOUTS[request.param]
    gnome = start_gnome(logical_layout=logical)
    try:
        gnome.configure_monitors(scale)
        yield gnome, scale
    finally:
        gnome.stop()


@pytest.fixture
def scaled(scaled_session: tuple[Gnome, float]) -> Iterator[tuple[Gnome, float]]:
    gnome, scale = scaled_session
    try:
        gnome.grant_screencast(screencast_token_file())
        yield gnome, scale
    finally:
        gnome.close_clients()
        gnome.configure_monitors(scale)


@pytest.fixture
def platform(scaled: tuple[Gnome, float]) -> Iterator[GnomePlatform]:
    gnome_platform = GnomePlatform(scaled[0].session_bus)
    try:
        yield gnome_platform
    finally:
        gnome_platform.close()


def test_excluded_window_is_black_at_every_scale(
    scaled: tuple[Gnome, float], platform: GnomePlatform
) -> None:
    """At scale 2 and at 1.5 the frame has the monitor's 1920x1080 pixels, a password manager
    beside a normal window leaves no red pixel (its edges, on half pixels at 1.5, included) and
    the normal window's pixels are there: each rect lands where GNOME drew the window."""
    gnome, _ = scaled
    gnome.spawn_foot("KeePassXC", VAULT)
    gnome.spawn_qt("notes", "notes", color="00ff00", size=(300, 200))
    gnome.focused("notes")
    sink, result = capture(platform, [ExclusionRule(name="Vault", app="KeePassXC")])
    assert not result.dropped, result
    [image] = sink.images()
    assert image.shape[:2] == (1080, 1920)
    assert count(image, RED) == 0
    # The Qt window (300x200 logical pixels: 600x400 and more at 2) is where its rect says.
    [qt] = [w for w in platform.windows() if w.title == "notes"]
    r = qt.rect
    inside = count(image[r.y : r.bottom, r.x : r.right], GREEN)
    assert inside == count(image, GREEN)
    assert inside >= 0.7 * r.area > 0
    # Without the rule the vault is there, red: the redaction above is what removed it.
    sink, _ = capture(platform, [])
    [image] = sink.images()
    assert count(image, RED) > 100_000


def test_a_rotated_monitor_is_refused_by_name(
    scaled: tuple[Gnome, float], platform: GnomePlatform
) -> None:
    """A monitor turned by 90 degrees cannot be mapped onto its frame yet: nothing is captured
    and the message says which monitor and what to do."""
    gnome, scale = scaled
    gnome.spawn_foot("KeePassXC", VAULT)
    gnome.configure_monitors(scale, transform=1)
    with pytest.raises(PlatformError, match="rotated"):
        platform.windows()
    with pytest.raises(PlatformError, match="rotated"):
        capture(platform, [ExclusionRule(name="Vault", app="KeePassXC")])


@pytest.fixture(scope="module")
def two_outputs_session() -> Iterator[Gnome]:
    """Fractional scaling on, two 1920x1080 monitors: the left at 1.5 (1280x720 on the stage),
    the right at 2 (960x540) placed 90 stage pixels lower."""
    gnome = start_gnome(logical_layout=True, monitors=2)
    try:
        gnome.configure_monitors(1.5, more=((1280, 90, 2.0),))
        yield gnome
    finally:
        gnome.stop()


@pytest.fixture
def two_outputs(two_outputs_session: Gnome) -> Iterator[GnomePlatform]:
    gnome = two_outputs_session
    gnome.grant_screencast(screencast_token_file())
    gnome_platform = GnomePlatform(gnome.session_bus)
    try:
        yield gnome_platform
    finally:
        gnome_platform.close()
        gnome.close_clients()


def test_window_across_two_monitors_of_different_scales_is_black_on_both(
    two_outputs_session: Gnome, two_outputs: GnomePlatform
) -> None:
    """A password manager (an Xwayland xterm) straddling a monitor at 1.5 and one at 2 placed
    lower: both frames have their 1920x1080 pixels, neither has a red pixel with the rule, both
    show the vault without it (so it was on both and each piece was mapped with its own scale
    and offset), and the normal window beside it is captured where its rect says."""
    gnome, platform = two_outputs_session, two_outputs
    gnome.spawn_xterm("KeePassXC", VAULT, geometry="60x20+100+100")
    gnome.move_xterm(VAULT, 1100, 200)
    gnome.spawn_foot("notes", "notes", background="00ff00")
    gnome.focused("notes")
    pieces = [w for w in platform.windows() if w.title == VAULT]
    assert len(pieces) == 2, pieces
    sink, result = capture(platform, [ExclusionRule(name="Vault", app="KeePassXC")])
    assert not result.dropped, result
    images = sink.images()
    assert [image.shape[:2] for image in images] == [(1080, 1920), (1080, 1920)]
    assert [count(image, RED) for image in images] == [0, 0]
    assert sum(count(image, GREEN) for image in images) > 100_000
    sink, _ = capture(platform, [])
    assert all(count(image, RED) > 1_000 for image in sink.images())
