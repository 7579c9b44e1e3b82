"""The capture pipeline on a real headless GNOME Shell: windows from Jarvis's Shell extension,
frames from the xdg-desktop-portal's screen cast (pipewire, in memory), real Wayland clients
(foot, a Qt window with a popup).

Excluded windows are filled red, so a leaked pixel of theirs is unmistakable; the tests count red
pixels in the encoded (lossless PNG) images the pipeline hands on.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from jarvis_agent.capture.rules import ExclusionRule, RuleAction
from jarvis_platform import (
    ActiveWindow,
    PlatformError,
    UnsupportedSessionError,
    check_session,
    choose,
)
from jarvis_platform.gnome import GnomePlatform
from jarvis_platform.gnome_screencast import screencast_token_file
from jarvis_platform.gnome_setup import EXTENSION_UUID
from tests.support.capture import (
    GREEN,
    RED,
    VAULT,
    after_policy,
    assert_race_drops_the_tick,
    capture,
    count,
)
from tests.support.file_watch import IMAGE_SUFFIXES, files_written
from tests.support.gnome import Gnome
from tests.support.wayland import wait_for

pytestmark = pytest.mark.gnome


@pytest.fixture
def granted(gnome: Gnome) -> Gnome:
    """The session with the screens shared, as after the one-time dialog (the restore token in
    this test's JARVIS_HOME)."""
    gnome.grant_screencast(screencast_token_file())
    return gnome


@pytest.fixture
def platform(granted: Gnome) -> Iterator[GnomePlatform]:
    gnome_platform = GnomePlatform(granted.session_bus)
    try:
        yield gnome_platform
    finally:
        gnome_platform.close()


_IMAGE_MAGIC = (b"\x89PNG", b"\xff\xd8\xff", b"RIFF", b"BM", b"P6", b"II*\x00", b"MM\x00*")


def _looks_like_an_image(path: Path) -> bool:
    """A file still there that starts like an image (whatever its name)."""
    try:
        with path.open("rb") as file:
            head = file.read(8)
    except OSError:
        return False
    return head.startswith(_IMAGE_MAGIC)


def images_written(written: list[Path]) -> list[Path]:
    return [p for p in written if p.suffix.casefold() in IMAGE_SUFFIXES or "creenshot" in p.name]


def test_excluded_window_is_black_unfocused_and_focused(
    granted: Gnome, platform: GnomePlatform
) -> None:
    """A native Wayland password manager (foot, app id KeePassXC) is blacked out to the last
    pixel, title bar included, whether another window has the focus or it does; the other window
    is captured."""
    gnome = granted
    vault = gnome.spawn_foot("KeePassXC", VAULT)
    gnome.spawn_foot("notes", "notes", background="00ff00")
    gnome.focused("notes")
    sink, result = capture(platform)
    [image] = sink.images()
    assert image.shape[:2] == (1080, 1920)
    assert count(image, RED) == 0
    assert count(image, GREEN) > 100_000
    assert not result.dropped
    assert sink.items[0][0].window_title == "notes"

    gnome.close(vault)  # a new vault window takes the focus
    gnome.spawn_foot("KeePassXC", VAULT)
    gnome.focused(VAULT)
    # The default rule skips a focused password manager; a redact rule must black it out.
    sink, result = capture(platform, [ExclusionRule(name="Vault", app="KeePassXC")])
    assert len(sink.items) == 1, result
    [image] = sink.images()
    assert count(image, RED) == 0
    assert count(image, GREEN) > 0
    assert sink.items[0][0].window_title is None  # an excluded window's title is not recorded


def test_no_image_file_is_written_while_frames_are_taken(
    granted: Gnome, platform: GnomePlatform, tmp_path: Path
) -> None:
    """Frames come from GNOME's screen cast in memory: while three frames are taken, no image file
    (by name or by content) appears under the desktop user's HOME (Pictures and every XDG
    folder), the runtime dirs (GNOME's, the portal's), /tmp or /dev/shm, and nothing at all in
    the test's JARVIS_HOME (inotify sees files written and deleted again, as the screenshot
    portal's PNG was: the old route fails here on HOME/Screenshot.png)."""
    gnome = granted
    gnome.spawn_foot("KeePassXC", VAULT)
    gnome.spawn_foot("notes", "notes", background="00ff00")
    gnome.focused("notes")
    rules = [ExclusionRule(name="Vault", app="KeePassXC")]
    with files_written(
        [gnome.home, gnome.runtime_dir, gnome.base / "portal-runtime", tmp_path],
        [Path("/tmp"), Path("/dev/shm")],
    ) as written:
        sinks = [capture(platform, rules)[0] for _ in range(3)]
    assert [len(sink.items) for sink in sinks] == [1, 1, 1]
    for sink in sinks:
        [image] = sink.images()
        assert count(image, RED) == 0
        assert count(image, GREEN) > 100_000
    assert images_written(written) == []
    # Files the desktop keeps for itself (the permission store's database, wireplumber's state)
    # may change meanwhile; none of them, nor anything under JARVIS_HOME, holds an image.
    assert [p for p in written if p.is_relative_to(tmp_path)] == []
    assert [p for p in written if _looks_like_an_image(p)] == []


def test_excluded_xwayland_window_is_black(granted: Gnome, platform: GnomePlatform) -> None:
    """An X11 app through GNOME's Xwayland counts as a window: its class KeePassXC is black."""
    gnome = granted
    gnome.spawn_xterm("KeePassXC", VAULT)
    gnome.spawn_foot("notes", "notes", background="00ff00")
    gnome.focused("notes")
    assert any(w.app_name == "KeePassXC" and not w.hidden for w in platform.windows())
    assert gnome.window(VAULT)["xwayland"]
    sink, _ = capture(platform)
    [image] = sink.images()
    assert count(image, RED) == 0
    assert count(image, GREEN) > 0


def test_popup_of_an_excluded_window_is_black(granted: Gnome, platform: GnomePlatform) -> None:
    """GNOME lists menus and tooltips as windows of their own: the red popup of an excluded Qt
    window, hanging outside it, is blacked out with it (no tick skipped for it)."""
    gnome = granted
    gnome.spawn_foot("notes", "notes", background="00ff00")
    gnome.spawn_qt("KeePassXC", VAULT, size=(400, 300), popup=(300, 200, 300, 250))
    vault = next(w for w in platform.windows() if w.title == VAULT)
    popup = wait_for(
        lambda: next(
            (
                w
                for w in platform.windows()
                if w.popup and w.owner == vault.id and not w.hidden and not w.rect.empty
            ),
            None,
        ),
        "the popup to be listed, shown, with its window",
    )
    assert popup.rect.right > vault.rect.right  # it hangs outside its window
    # On the real screen the popup is there, red, beyond its window's right edge.
    frames = platform.frame_source()
    try:
        [monitor] = frames.monitors()
        raw = frames.grab(monitor).pixels[..., 2::-1]
        outside = raw[popup.rect.y : popup.rect.bottom, vault.rect.right : popup.rect.right]
        assert count(outside, RED) > 1000
    finally:
        frames.close()
    rules = [ExclusionRule(name="Vault", app="KeePassXC")]  # black out, not skip
    sink, result = capture(platform, rules)
    [image] = sink.images()
    assert count(image, RED) == 0
    assert count(image, GREEN) > 0
    assert any("a popup of a window" in reason for reason in result.reasons)


def test_window_moved_between_check_and_grab_drops_the_frame(
    granted: Gnome, platform: GnomePlatform
) -> None:
    """An excluded window (an Xwayland xterm of class KeePassXC, moved as its program moves it)
    that GNOME moves after the policy ran, before the screen cast's frame is taken: the re-read
    after the grab sees it elsewhere, the frame is dropped and nothing is stored; the next tick
    blacks it out where it is now."""
    gnome = granted
    gnome.spawn_xterm("KeePassXC", VAULT, geometry="40x10+50+50")
    gnome.move_xterm(VAULT, 60, 60)  # undecorated from now on: the race only moves it
    gnome.spawn_foot("notes", "notes", background="00ff00")
    gnome.focused("notes")
    # To an empty corner of the screen: no other window covers it there.
    racing = after_policy(platform, lambda: gnome.move_xterm(VAULT, 1500, 800))
    [image] = assert_race_drops_the_tick(racing, [ExclusionRule(name="Vault", app="KeePassXC")])
    assert racing.reads >= 2
    assert count(image, GREEN) > 100_000


def test_excluded_window_mapped_between_check_and_grab_drops_the_frame(
    granted: Gnome, platform: GnomePlatform
) -> None:
    """A native Wayland password manager that opens after the policy ran, before the frame is
    taken (it is drawn on the frame, absent from the window list the policy read): the re-read
    after the grab lists it, the frame is dropped; the next tick blacks it out."""
    gnome = granted
    gnome.spawn_foot("notes", "notes", background="00ff00")
    gnome.focused("notes")
    racing = after_policy(platform, lambda: gnome.spawn_foot("KeePassXC", VAULT))
    [image] = assert_race_drops_the_tick(racing, [ExclusionRule(name="Vault", app="KeePassXC")])
    assert count(image, GREEN) > 0


def test_excluded_window_raised_between_check_and_grab_drops_the_frame(
    granted: Gnome, platform: GnomePlatform
) -> None:
    """An excluded Xwayland window partly under another window (only its uncovered part needs
    blacking out) takes the focus after the policy ran, which raises it: the part that was
    covered is on the frame, the re-read after the grab sees it, the frame is dropped."""
    gnome = granted
    gnome.spawn_xterm("KeePassXC", VAULT, geometry="40x10+50+50")
    gnome.spawn_foot("notes", "notes", background="00ff00")
    notes = gnome.focused("notes")
    x, y, width, height = notes["rect"]
    gnome.move_xterm(VAULT, x + width - 120, y + height - 70)  # its top left under the notes
    [before] = [w for w in platform.windows() if w.title == VAULT]
    [over] = [w for w in platform.windows() if w.title == "notes"]
    assert over.stacking > before.stacking
    assert before.rect.intersect(over.rect) is not None
    racing = after_policy(platform, lambda: gnome.activate_xterm(VAULT))
    [image] = assert_race_drops_the_tick(racing, [ExclusionRule(name="Vault", app="KeePassXC")])
    assert count(image, GREEN) > 0


def test_skip_rule_skips_the_frame(granted: Gnome, platform: GnomePlatform) -> None:
    """A skip rule on the focused window takes no frame at all, and says which rule."""
    gnome = granted
    gnome.spawn_foot("banking", "My Bank", background="ff0000")
    gnome.focused("My Bank")
    rules = [ExclusionRule(name="Bank", title="My Bank", action=RuleAction.SKIP)]
    sink, result = capture(platform, rules)
    assert sink.items == []
    assert "skip rule 'Bank'" in result.skipped[0][1]


def test_focus_and_title_changes_are_reported(granted: Gnome, platform: GnomePlatform) -> None:
    """The window-change trigger: a new window taking the focus, the focus coming back when it
    closes, and the focused window's title changing are each reported once."""
    gnome = granted
    trigger = gnome.base / "retitle"
    script = f"while [ ! -e {trigger} ]; do sleep 0.1; done; printf '\\033]2;renamed\\033\\\\'; "
    script += "exec sleep 3600"
    notes = gnome._spawn(
        [
            "foot",
            "--app-id",
            "notes",
            "--title",
            "notes",
            "--override",
            "locked-title=no",
            "sh",
            "-c",
            script,
        ],
        "notes",
        "notes",
    )
    seen: list[ActiveWindow] = []
    errors: list[PlatformError] = []
    watch = platform.watch_active_window(seen.append, on_error=errors.append)
    try:
        wait_for(lambda: seen and seen[-1].title == "notes", "the first report")
        other = gnome.spawn_foot("other", "other", background="0000ff")
        wait_for(lambda: seen[-1].title == "other", "the focus change")
        gnome.close(other)
        wait_for(lambda: seen[-1].title == "notes", "the focus coming back")
        trigger.touch()
        wait_for(lambda: seen[-1].title == "renamed", "the title change")
    finally:
        watch.stop()
        gnome.close(notes)
    assert not watch.alive
    assert errors == []
    assert [a.title for a in seen] == ["notes", "other", "notes", "renamed"]


def test_idle_and_lock_come_from_gnome(granted: Gnome, platform: GnomePlatform) -> None:
    """Idle time is mutter's (milliseconds since the last input, as seconds) and the lock state
    is GNOME's; both are known, so capture is not refused for them."""
    first = platform.idle_seconds()
    assert first is not None
    later = wait_for(lambda: (v := platform.idle_seconds()) and v > first and v, "idle to grow")
    assert later > first
    assert platform.is_locked() is False


def test_gnome_session_is_chosen_and_doctor_names_it(granted: Gnome) -> None:
    """With the extension running and the screens shared, GNOME's backend is chosen."""
    assert check_session(granted.env, "linux") == "gnome"
    assert choose(granted.env, "linux").verdicts[0].backend == "GNOME"


def test_without_the_extension_nothing_is_captured_and_the_step_is_named(
    granted: Gnome,
) -> None:
    """With the extension disabled, GNOME is refused with what is missing and the exact step; a
    platform created before refuses its window list (no frame without one)."""
    gnome = granted
    platform = GnomePlatform(gnome.session_bus)
    gnome.extensions("DisableExtension", EXTENSION_UUID)
    try:
        wait_for(lambda: "not running" in str(choose(gnome.env, "linux").verdicts), "refusal")
        with pytest.raises(UnsupportedSessionError) as caught:
            check_session(gnome.env, "linux")
        message = str(caught.value)
        assert message.startswith("GNOME on Wayland: Jarvis's GNOME Shell extension")
        assert "Run `jarvis setup gnome`, then log out and back in once" in message
        with pytest.raises(PlatformError, match="jarvis setup gnome"):
            capture(platform)
    finally:
        gnome.extensions("EnableExtension", EXTENSION_UUID)
        platform.close()
    wait_for(lambda: check_session(gnome.env, "linux") == "gnome", "the extension back")


def test_a_program_holding_jarvis_name_is_not_trusted(granted: Gnome) -> None:
    """While the extension is off, another program of the user takes local.jarvis.Shell (and
    could serve a window list without the excluded windows): GNOME is refused naming it, and a
    platform refuses its window list."""
    from jarvis_platform.gnome_dbus import MESSAGE_BUS, Bus

    gnome = granted
    platform = GnomePlatform(gnome.session_bus)
    gnome.extensions("DisableExtension", EXTENSION_UUID)
    impostor = Bus(gnome.session_bus)
    try:
        wait_for(lambda: "not running" in str(choose(gnome.env, "linux").verdicts), "refusal")
        (reply,) = impostor.call(MESSAGE_BUS, "RequestName", "su", ("local.jarvis.Shell", 4))
        assert reply == 1  # the primary owner now
        with pytest.raises(UnsupportedSessionError, match="owned by a program other than GNOME"):
            check_session(gnome.env, "linux")
        with pytest.raises(PlatformError, match="does not trust its window list"):
            platform.windows()
    finally:
        impostor.close()
        gnome.extensions("EnableExtension", EXTENSION_UUID)
        platform.close()
    wait_for(lambda: check_session(gnome.env, "linux") == "gnome", "the extension back")


def test_without_the_screen_cast_permission_nothing_is_captured(gnome: Gnome) -> None:
    """Screens never shared, the permission revoked, or a shared monitor gone: GNOME is refused
    naming what is wrong and the step, and a platform's frame source never starts a session that
    would make GNOME show its dialog (no dialog, no frame)."""
    token_file = screencast_token_file()
    token_file.unlink(missing_ok=True)
    with pytest.raises(UnsupportedSessionError) as caught:
        check_session(gnome.env, "linux")
    assert "GNOME has not yet let Jarvis cast your screens" in str(caught.value)
    assert "run `jarvis setup gnome` and share your screens once" in str(caught.value)
    gnome.spawn_foot("notes", "notes", background="00ff00")
    platform = GnomePlatform(gnome.session_bus)
    try:
        with pytest.raises(PlatformError, match="has not yet let Jarvis cast your screens"):
            capture(platform)
        gnome.grant_screencast(token_file, allowed=False)
        with pytest.raises(UnsupportedSessionError, match="screen sharing was revoked for Jarvis"):
            check_session(gnome.env, "linux")
        with pytest.raises(PlatformError, match="screen sharing was revoked"):
            capture(platform)
        token_file.write_text(gnome.grant_screencast(token_file).replace("-", "0", 1) + "\n")
        with pytest.raises(UnsupportedSessionError, match="no longer knows Jarvis's screen"):
            check_session(gnome.env, "linux")
        gnome.grant_screencast(token_file, monitors=["Acme:Unplugged:0x01"])
        with pytest.raises(PlatformError, match="a monitor you shared with Jarvis is gone"):
            capture(platform)
    finally:
        platform.close()


def test_a_signal_from_another_client_is_not_a_focus_change(
    granted: Gnome, platform: GnomePlatform
) -> None:
    """Any client can emit a signal on Jarvis's path and interface: only GNOME Shell's counts."""
    gnome = granted
    gnome.spawn_foot("notes", "notes", background="00ff00")
    gnome.focused("notes")
    seen: list[ActiveWindow] = []
    watch = platform.watch_active_window(seen.append, on_error=lambda _: None)
    try:
        wait_for(lambda: seen, "the first report")
        subprocess.run(
            [
                "gdbus",
                "emit",
                "--session",
                "--object-path",
                "/local/jarvis/Shell",
                "--signal",
                "local.jarvis.Shell1.FocusChanged",
                '\'{"id": 1, "title": "forged"}\'',
            ],
            env=gnome.env,
            check=True,
            timeout=60,
        )
        gnome.spawn_foot("other", "other", background="0000ff")
        wait_for(lambda: seen[-1].title == "other", "the real focus change")
    finally:
        watch.stop()
    assert "forged" not in [a.title for a in seen]


def test_watch_stops_cleanly(granted: Gnome, platform: GnomePlatform) -> None:
    """Stopping the watch ends its thread; it does not report an error for its own stop."""
    errors: list[PlatformError] = []
    changed = threading.Event()
    watch = platform.watch_active_window(lambda _: changed.set(), on_error=errors.append)
    assert changed.wait(30)
    watch.stop()
    watch.stop()
    assert not watch.alive
    assert errors == []


def test_two_jarvis_processes_casting_at_once_both_restore_silently(granted: Gnome) -> None:
    """GNOME's restore token is single-use: each cast hands back the next one. The tray's tick
    and `jarvis doctor` (or `jarvis snapshot`) starting a cast at the same moment each restore in
    turn from the token the other left: both get their frame, GNOME asks nothing, and the token
    kept afterwards is one GNOME still knows."""
    from jarvis_platform.gnome_dbus import Bus
    from jarvis_platform.gnome_screencast import ScreenCastFrames, screencast_readiness

    granted.spawn_foot("notes", "notes", background="00ff00")
    sources = [ScreenCastFrames(granted.session_bus) for _ in range(3)]
    together = threading.Barrier(len(sources))
    greens: list[int] = []
    failures: list[BaseException] = []

    def grab(frames: ScreenCastFrames) -> None:
        try:
            [monitor] = frames.monitors()
            together.wait()
            greens.append(count(frames.grab(monitor).pixels[..., 2::-1], GREEN))  # BGRA
        except BaseException as exc:
            failures.append(exc)
        finally:
            frames.release()

    try:
        for _round in range(2):
            threads = [threading.Thread(target=grab, args=(frames,)) for frames in sources]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            assert failures == []
        assert len(greens) == 2 * len(sources)
        assert min(greens) > 10_000  # each frame shows the green window: a real cast, not black
        bus = Bus(granted.session_bus)
        try:
            assert screencast_readiness(bus) is None
        finally:
            bus.close()
    finally:
        for frames in sources:
            frames.close()
