"""The capture pipeline on a real headless KWin (Plasma 5.27): real Wayland and Xwayland windows.

Excluded windows are filled red (a Qt window with app id KeePassXC, an Xwayland xterm of class
KeePassXC), so a leaked pixel of theirs is unmistakable; the tests count red pixels in the encoded
(lossless PNG) images, which hold what KWin's ScreenShot2 gave: at scale 1, 2 and 1.5, and on two
outputs (each scaled layout has a KWin of its own, started once for this module).
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from jeepney import DBusAddress  # type: ignore[import-untyped]

from jarvis_agent.capture.rules import ExclusionRule, RuleAction
from jarvis_platform import ActiveWindow, PlatformError, UnsupportedSessionError, check_session
from jarvis_platform.kwin import KWinPlatform
from jarvis_platform.kwin_bus import KWinBus
from jarvis_platform.kwin_shot import authorization_file
from jarvis_platform.sway_layout import Output
from jarvis_platform.types import Frame, Monitor
from tests.support.capture import (
    GREEN,
    RED,
    VAULT,
    after_policy,
    assert_race_drops_the_tick,
    capture,
    count,
)
from tests.support.kwin import KWin, authorized, start_kwin
from tests.support.wayland import wait_for

pytestmark = pytest.mark.kwin

JARVIS = Path(__file__).parents[3] / ".venv" / "bin" / "jarvis"


@pytest.fixture
def platform(kwin: KWin) -> Iterator[KWinPlatform]:
    kwin_platform = kwin.platform()
    try:
        yield kwin_platform
    finally:
        kwin_platform.close()


@pytest.mark.parametrize("focused", [False, True], ids=["unfocused", "focused"])
def test_excluded_windows_are_black_focused_or_not(
    kwin: KWin, platform: KWinPlatform, focused: bool
) -> None:
    """A native Wayland KeePassXC window and an Xwayland one are blacked out to the last pixel,
    whether one of them has the focus or a normal window has it; the normal window is whole."""
    kwin.spawn_qt("notes", "notes", color="00ff00", size=(1600, 900))
    kwin.spawn_qt("KeePassXC", VAULT, size=(500, 400))
    kwin.spawn_xterm("KeePassXC", "xvault")
    kwin.focus(VAULT if focused else "notes")
    assert {w.app_name for w in platform.windows()} >= {"notes", "KeePassXC", "keepassxc"}
    vault = [ExclusionRule(name="Vault", app="KeePassXC")]  # black out, not skip
    sink, result = capture(platform, vault)
    [image] = sink.images()
    assert image.shape[:2] == (1080, 1920)
    assert count(image, RED) == 0
    assert count(image, GREEN) > 100_000
    assert not result.dropped


def test_popup_of_an_excluded_window_is_black(kwin: KWin, platform: KWinPlatform) -> None:
    """KWin lists Wayland popups with the window they belong to: the red popup of a focused
    excluded Qt window, hanging outside it, is blacked out with it (no tick skipped)."""
    kwin.spawn_qt("notes", "notes", color="00ff00", size=(1600, 900))
    kwin.spawn_qt("KeePassXC", VAULT, size=(400, 300), popup=(300, 200, 300, 250))
    kwin.focus(VAULT)
    wait_for(lambda: any(w.popup for w in platform.windows()), "the popup to be listed")
    [popup] = [w for w in platform.windows() if w.popup]
    assert popup.app_name == "KeePassXC"
    assert platform.lists_popups
    frames = kwin.frames()
    try:
        [monitor] = frames.monitors()
        red = count(frames.grab(monitor).pixels[..., 2::-1].copy(), RED)
    finally:
        frames.close()
    assert red > 400 * 300  # the popup is drawn outside the window: there is something to hide
    vault = [ExclusionRule(name="Vault", app="KeePassXC")]  # black out, not skip
    sink, result = capture(platform, vault)
    [image] = sink.images()
    assert count(image, RED) == 0
    assert not result.skipped


def test_skip_rule_skips_the_tick(kwin: KWin, platform: KWinPlatform) -> None:
    """A skip rule for the focused window skips the frame, with the rule named."""
    kwin.spawn_qt("notes", "notes", color="00ff00")
    kwin.spawn_qt("Signal", "Signal chat", color="0000ff")
    kwin.focus("Signal chat")
    rule = ExclusionRule(name="Messages", app="Signal", action=RuleAction.SKIP)
    sink, result = capture(platform, [rule])
    assert sink.items == []
    assert "skip rule 'Messages'" in result.skipped[0][1]


def test_focus_and_title_changes_are_reported(
    kwin: KWin, platform: KWinPlatform, tmp_path: Path
) -> None:
    """The window-change trigger: the KWin script pushes focus changes and the focused window's
    new title; stopping the watch ends its thread."""
    flag = tmp_path / "rename"
    kwin.spawn_qt("notes", "notes", color="00ff00")
    kwin.spawn_xterm("XTerm", "term", background="blue", rename_on=flag)
    kwin.focus("notes")
    seen: list[ActiveWindow] = []
    errors: list[PlatformError] = []
    watch = platform.watch_active_window(seen.append, on_error=errors.append)
    try:
        wait_for(lambda: seen and seen[-1].title == "notes", "the first report")
        kwin.focus("term")
        wait_for(lambda: seen[-1].title == "term", "the focus change")
        flag.touch()
        wait_for(lambda: seen[-1].title == "renamed", "the title change")
    finally:
        watch.stop()
    assert not watch.alive
    assert errors == []
    # KWin passes through "no active window" while switching: those reports carry None.
    assert [a.title for a in seen if a.title is not None] == ["notes", "term", "renamed"]


def test_missing_authorization_is_refused_and_setup_kde_fixes_it(kwin: KWin) -> None:
    """Without the .desktop authorization KWin answers NoAuthorized: no frame, and the message
    names KWin, what is missing and `jarvis setup kde`; after that command, frames come."""
    authorization_file().unlink()
    frames = kwin.frames()
    try:
        [monitor] = frames.monitors()

        def refused() -> UnsupportedSessionError | None:
            try:
                frames.grab(monitor)
            except UnsupportedSessionError as exc:
                return exc
            return None

        # KWin reads .desktop files through KService's cache, which looks for changes at most
        # every 1.5 s: a file removed just after it was written may still count for a moment.
        message = str(wait_for(refused, "KWin to notice the authorization is gone"))
        assert "KWin refuses Jarvis its screenshots" in message
        assert "NoAuthorized" in message
        assert "Run `jarvis setup kde` once" in message

        done = subprocess.run(
            [str(JARVIS), "setup", "kde"], env=kwin.env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stderr
        assert "KWin will let" in done.stdout
        assert authorization_file().read_text().count("org.kde.KWin.ScreenShot2") == 1

        def granted() -> Frame | None:
            try:
                return frames.grab(monitor)
            except UnsupportedSessionError:
                return None  # KService's cache has not seen the new file yet

        frame = wait_for(granted, "KWin to see the authorization")
        assert frame.pixels.shape == (1080, 1920, 4)
    finally:
        frames.close()


def test_kwin_session_is_chosen_from_its_environment(kwin: KWin) -> None:
    """Inside Plasma (XDG_CURRENT_DESKTOP=KDE, WAYLAND_DISPLAY, org.kde.KWin on the session
    bus) the KWin backend is chosen; without KWin on the bus, the refusal names KDE and KWin."""
    assert check_session(kwin.env, "linux") == "kwin"
    elsewhere = {**kwin.env, "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent/bus"}
    with pytest.raises(UnsupportedSessionError) as caught:
        check_session(elsewhere, "linux")
    assert "KDE Plasma Wayland session" in str(caught.value)
    assert "KWin cannot be reached" in str(caught.value)


def test_screen_lock_comes_from_kwin_and_unknown_fails_closed(kwin: KWin) -> None:
    """KWin's screen locker answers org.freedesktop.ScreenSaver (not locked here); when no lock
    source answers at all, is_locked refuses rather than guess."""
    from jarvis_platform.screen_lock import LockSource, SessionLockProbe, default_lock_sources

    [saver] = [s for s in default_lock_sources() if s.name == "org.freedesktop.ScreenSaver"]
    probe = SessionLockProbe([LockSource(saver.name, kwin.bus_address, saver.address, "GetActive")])
    platform = KWinPlatform(
        str(kwin.wayland_socket), bus_address=kwin.bus_address, lock_probe=probe
    )
    try:
        assert platform.is_locked() is False
    finally:
        platform.close()
    nobody = SessionLockProbe(
        [LockSource(saver.name, "unix:path=/nonexistent", saver.address, "GetActive")]
    )
    platform = KWinPlatform(
        str(kwin.wayland_socket), bus_address=kwin.bus_address, lock_probe=nobody
    )
    try:
        with pytest.raises(PlatformError, match="cannot tell whether the screen is locked"):
            platform.is_locked()
    finally:
        platform.close()
    assert not any(t.name == "kwin-window-watch" for t in threading.enumerate())


def test_doctor_shows_the_kwin_verdict_and_the_missing_authorization(
    kwin: KWin, jarvis_home: Path
) -> None:
    """`jarvis doctor` inside Plasma: the KWin backend is in use with its reason; without the
    authorization the screen-capture line fails naming KWin and `jarvis setup kde`; after it,
    the grab succeeds."""
    authorization_file().unlink()
    settled(kwin, granted=False)
    env = {**kwin.env, "JARVIS_HOME": str(jarvis_home)}
    done = subprocess.run(
        [str(JARVIS), "doctor"], env=env, capture_output=True, text=True, check=False
    )
    assert "OK   display server: KWin backend in use" in done.stdout
    assert "KWin (priority 20): KWin on the session bus" in done.stdout
    capture_line = next(x for x in done.stdout.splitlines() if "screen capture" in x)
    assert capture_line.startswith("FAIL screen capture")
    assert "KWin refuses Jarvis its screenshots" in capture_line
    assert "Run `jarvis setup kde` once" in capture_line
    subprocess.run([str(JARVIS), "setup", "kde"], env=env, check=True, capture_output=True)
    settled(kwin, granted=True)
    done = subprocess.run(
        [str(JARVIS), "doctor"], env=env, capture_output=True, text=True, check=False
    )
    capture_line = next(x for x in done.stdout.splitlines() if "screen capture" in x)
    # Headless KWin draws no wallpaper: with no window open the frame is black, which doctor
    # flags; what matters here is that the grab now succeeds.
    assert "screen capture: grabbed 1920x1080 from monitor 0 of 1" in capture_line


def settled(kwin: KWin, *, granted: bool) -> None:
    """Wait until KWin grants (or refuses) this interpreter its screenshots: it reads the
    .desktop files through KService's cache, which looks for changes at most every 1.5 s."""
    frames = kwin.frames()
    try:
        [monitor] = frames.monitors()

        def answer() -> bool:
            try:
                frames.grab(monitor)
            except UnsupportedSessionError:
                return not granted
            return granted

        wait_for(answer, "KWin to " + ("grant" if granted else "refuse") + " screenshots")
    finally:
        frames.close()


# Scale 2 on one output, 1.5 on two outputs side by side (KWin's virtual backend gives every
# output the same scale), and two outputs at 1.5 and 2, the second placed 90 logical pixels lower
# (set through kde_output_management_v2, as System Settings does); each output has 1920x1080
# device pixels.
LAYOUTS = {
    "scale-2": (2.0, (960, 540), 1, None),
    "scale-1.5-two-outputs": (1.5, (1280, 720), 2, None),
    "scales-1.5-and-2-two-outputs": (1.5, (1280, 720), 2, ("Virtual-1", 2.0, 1280, 90)),
}


@pytest.fixture(scope="module", params=list(LAYOUTS))
def scaled_kwin_session(request: pytest.FixtureRequest) -> Iterator[KWin]:
    scale, size, outputs, second = LAYOUTS[request.param]
    session = start_kwin(scale=scale, size=size, outputs=outputs)
    try:
        if second is not None:
            session.configure_output(*second)
        yield session
    finally:
        session.stop()


@pytest.fixture
def scaled_kwin(scaled_kwin_session: KWin) -> Iterator[KWin]:
    with authorized(scaled_kwin_session) as session:
        yield session


def raw_counts(kwin: KWin, rgb: tuple[int, int, int]) -> int:
    """Pixels of `rgb` on all outputs as KWin draws them now (no redaction)."""
    frames = kwin.frames()
    try:
        return sum(count(frames.grab(m).pixels[..., 2::-1].copy(), rgb) for m in frames.monitors())
    finally:
        frames.close()


def test_excluded_window_is_black_at_native_resolution_on_scaled_outputs(
    scaled_kwin: KWin,
) -> None:
    """At scale 2, at 1.5 on two outputs, and on two outputs at 1.5 and 2 at different heights,
    frames have every device pixel (1920x1080 per output) and KWin's logical window geometry is
    mapped to them: a KeePassXC window at odd logical coordinates (fractional device pixels at
    1.5), spanning the seam between the two outputs, leaves not one red pixel, and the normal
    window beside it keeps all its pixels."""
    kwin = scaled_kwin
    kwin.spawn_qt("notes", "notes", color="00ff00", size=(300, 200))
    kwin.spawn_qt("KeePassXC", VAULT, size=(300, 200))
    seams = sorted(o.logical.right for o in _outputs(kwin))[:-1]
    left = seams[0] - 151 if seams else 101  # across the seam when there are two outputs
    kwin.place(VAULT, left, 77, 301, 203)
    kwin.place("notes", left + 301 + 5, 77, 301, 203)  # just beside it, not covered
    kwin.focus("notes")
    red, green = raw_counts(kwin, RED), raw_counts(kwin, GREEN)
    assert red > 200 * 150 * 2  # there is something to hide, in device pixels
    vault = [ExclusionRule(name="Vault", app="KeePassXC")]  # black out, not skip
    platform = kwin.platform()
    try:
        sink, result = capture(platform, vault)
    finally:
        platform.close()
    images = sink.images()
    assert not result.dropped
    assert len(images) == len(_outputs(kwin))
    for image in images:
        assert image.shape[:2] == (1080, 1920)
        assert count(image, RED) == 0
        assert reddish(image) == 0  # no seam: not even a pixel half covered by the window
    assert sum(count(image, GREEN) for image in images) == green > 0


def reddish(image: np.ndarray) -> int:
    """Pixels with any visible share of the red window (a half-covered edge pixel is dark red
    on the black desktop)."""
    r, g, b = (image[..., i].astype(int) for i in range(3))
    return int(((r >= 24) & (r > 2 * g + 8) & (r > 2 * b + 8)).sum())


def _outputs(kwin: KWin) -> list[Output]:
    from jarvis_platform.kwin_outputs import read_outputs
    from jarvis_platform.sway_layout import layout_outputs

    return layout_outputs(read_outputs(str(kwin.wayland_socket)))


def test_window_moved_between_check_and_grab_drops_the_frame(
    kwin: KWin, platform: KWinPlatform
) -> None:
    """An excluded window that KWin moves after the policy ran (before the grab): the re-read
    after the grab sees it elsewhere, the frame is dropped and nothing is stored; the next tick
    blacks it out where it is now."""
    kwin.spawn_qt("notes", "notes", color="00ff00", size=(600, 400))
    kwin.spawn_qt("KeePassXC", VAULT, size=(300, 200))
    kwin.place("notes", 400, 50, 600, 400)
    kwin.place(VAULT, 50, 50, 300, 200)
    kwin.focus("notes")
    # To an empty part of the screen: no other window covers it there.
    racing = after_policy(platform, lambda: kwin.place(VAULT, 1200, 600, 300, 200))
    [image] = assert_race_drops_the_tick(racing, [ExclusionRule(name="Vault", app="KeePassXC")])
    assert racing.reads >= 2
    assert count(image, GREEN) > 500 * 300


def test_script_kwin_refuses_means_no_frame_and_says_what_to_check(
    kwin: KWin, platform: KWinPlatform
) -> None:
    """A window-list script that KWin loads but cannot run (here one calling an API this KWin
    lacks, as a KWin of another version would) never reports back: the tick fails with the
    message naming KWin scripting and `jarvis doctor`, and no frame is grabbed or stored."""
    from jarvis_platform import kwin_bus, kwin_report

    kwin.spawn_qt("KeePassXC", VAULT, size=(300, 200))
    grabs: list[Monitor] = []
    frames = platform.frame_source()
    original_grab = frames.grab

    def counting_grab(monitor: Monitor) -> Frame:
        grabs.append(monitor)
        return original_grab(monitor)

    # Undone before the fixtures' teardown, which lists windows with the real script.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kwin_bus, "SCRIPT_TIMEOUT", 2.0)
        patch.setattr(kwin_report, "report_script", lambda _: "workspace.noSuchApi();\n")
        patch.setattr(frames, "grab", counting_grab)
        patch.setattr(platform, "frame_source", lambda: frames)
        with pytest.raises(UnsupportedSessionError) as caught:
            capture(platform, [ExclusionRule(name="Vault", app="KeePassXC")])
    frames.close()
    message = str(caught.value)
    assert message.startswith("KWin did not run Jarvis's window-list script (it did not report")
    assert "captures nothing" in message
    assert "KWin scripting is enabled" in message
    assert "`jarvis doctor`" in message
    assert grabs == []


def test_window_list_script_is_loaded_once_and_again_when_its_call_went_stale(
    kwin: KWin, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window-list script stays loaded between lists (each list is read from KWin when
    asked: a new window shows in the next one); when its waiting call is older than KWin keeps
    calls, it is told to stop, unloaded, and a new one is loaded: the lists keep coming."""
    from jarvis_platform import kwin_report
    from jarvis_platform.kwin_bus import KWIN

    scripting = DBusAddress("/Scripting", bus_name=KWIN, interface="org.kde.kwin.Scripting")
    bus = KWinBus(address=kwin.bus_address)
    reports = kwin_report.ResidentReport(bus)

    def loaded(plugin: str | None) -> bool:
        return bool(bus.call(scripting, "isScriptLoaded", "s", (plugin,)).body[0])

    try:
        assert "notes" not in reports.report()
        first = reports._plugin
        assert loaded(first)
        kwin.spawn_qt("notes", "notes", color="00ff00")
        assert '"caption":"notes"' in reports.report()
        assert reports._plugin == first  # the same script answered
        monkeypatch.setattr(kwin_report, "STALE", 0.0)
        assert '"caption":"notes"' in reports.report()
        assert reports._plugin != first
        assert not loaded(first)
        assert loaded(reports._plugin)
    finally:
        reports.close()
        bus.close()
