"""The capture pipeline on a real X server: real windows, real grabs, pixels read back.

Excluded windows get a red background, so any leaked pixel of theirs is unmistakable: the tests
assert that not one red pixel reaches the encoded image (lossless PNG, so no codec noise).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from PIL import Image

from jarvis_agent.capture.audit import AuditLog
from jarvis_agent.capture.pipeline import CapturePipeline, PipelineOptions
from jarvis_agent.capture.rules import ExclusionRule, RuleAction, default_rules
from jarvis_platform import Monitor, Rect, WindowInfo
from jarvis_platform.x11 import X11Platform
from tests.support.capture import GREEN, LOSSLESS, RED, Sink, after_policy, count
from tests.support.desktop import Desktop, Window

pytestmark = pytest.mark.x11


@pytest.fixture
def platform(x_windows: Desktop) -> Iterator[X11Platform]:
    x11 = X11Platform(x_windows.display)
    try:
        yield x11
    finally:
        x11.close()


def region(image: np.ndarray, rect: Rect) -> np.ndarray:
    return image[rect.y : rect.bottom, rect.x : rect.right]


def info(platform: X11Platform, window: Window) -> WindowInfo:
    return next(w for w in platform.windows() if w.id == window.id)


def vault(desktop: Desktop, geometry: str = "60x15+200+150") -> Window:
    return desktop.spawn_xterm(
        "Passwords.kdbx - KeePassXC", "KeePassXC", geometry, background="red"
    )


def test_focused_password_manager_skips_the_frame(
    x_windows: Desktop, platform: X11Platform
) -> None:
    """With the password manager focused (a skip rule) nothing is captured, and it says why."""
    x_windows.spawn_xterm("Notes", "XTerm", "60x15+700+300")
    vault(x_windows)  # newest window: openbox focuses it
    sink = Sink()
    result = CapturePipeline(platform, sink, rules=default_rules(), options=LOSSLESS).capture()
    assert sink.items == []
    assert result.captured == ()
    ((monitor, reason),) = result.skipped
    assert monitor is None
    assert "KeePass" in reason


def test_focused_private_window_is_blacked_out_and_unnamed(
    x_windows: Desktop, platform: X11Platform
) -> None:
    """A focused private-browsing window (a redact rule) is black; its title is not in metadata."""
    x_windows.spawn_xterm("Notes", "XTerm", "60x15+900+300")
    private = x_windows.spawn_xterm(
        "Bank — Mozilla Firefox Private Browsing", "firefox", "60x15+200+150", background="red"
    )
    sink = Sink()
    result = CapturePipeline(platform, sink, rules=default_rules(), options=LOSSLESS).capture()
    (metadata,) = result.captured
    assert (metadata.app_name, metadata.window_title) == (None, None)
    assert metadata.redacted_regions == 1
    image = sink.image()
    assert count(image, RED) == 0
    assert (region(image, info(platform, private).rect) == 0).all()


def test_thumbnail_shows_the_redaction_too(x_windows: Desktop, platform: X11Platform) -> None:
    """The tray's thumbnail is made of the redacted pixels: the private window is black in it,
    no reddish pixel of it survives, and the rest of the screen is there."""
    x_windows.spawn_xterm("Notes", "XTerm", "60x15+900+300")
    private = x_windows.spawn_xterm(
        "Bank — Mozilla Firefox Private Browsing", "firefox", "60x15+200+150", background="red"
    )
    sink = Sink()
    options = PipelineOptions(agent_version="test")
    CapturePipeline(platform, sink, rules=default_rules(), options=options).capture()
    ((metadata, _, thumbnail),) = sink.items
    assert thumbnail is not None
    thumb = np.asarray(Image.open(io.BytesIO(thumbnail)).convert("RGB")).astype(int)
    scale = thumb.shape[1] / metadata.width
    assert thumb.shape[1] == 320
    rect = info(platform, private).rect
    inside = thumb[
        int(rect.y * scale) + 2 : int(rect.bottom * scale) - 2,
        int(rect.x * scale) + 2 : int(rect.right * scale) - 2,
    ]
    assert inside.size > 0
    assert inside.max() < 40  # black, give or take JPEG ringing
    reddish = (thumb[..., 0] > 120) & (thumb[..., 0] > thumb[..., 1] + 60)
    assert int(reddish.sum()) == 0
    assert thumb.max() > 200  # the light parts of the screen are still there


def test_background_window_partly_covered_is_black_and_the_cover_intact(
    x_windows: Desktop, platform: X11Platform
) -> None:
    """An unfocused excluded window under another: its visible part is black, the cover is not."""
    hidden = vault(x_windows, "80x20+200+150")
    notes = x_windows.spawn_xterm("Notes", "XTerm", "60x15+500+300")  # on top, focused
    x_windows.activate(notes)
    sink = Sink()
    rules = [ExclusionRule(name="Vault", app="KeePassXC")]
    result = CapturePipeline(platform, sink, rules=rules, options=LOSSLESS).capture()
    (metadata,) = result.captured
    assert (metadata.app_name, metadata.window_title) == ("XTerm", "Notes")
    image = sink.image()
    assert count(image, RED) == 0
    vault_rect, notes_rect = info(platform, hidden).rect, info(platform, notes).rect
    # The vault's uncovered top-left corner, frame and title bar included, is pure black...
    corner = Rect(vault_rect.x, vault_rect.y, notes_rect.x - vault_rect.x, 40)
    assert (region(image, corner) == 0).all()
    # ...while the window covering it shows its own white background.
    inside = Rect(notes_rect.x + 20, notes_rect.y + 60, notes_rect.width - 40, 100)
    assert (region(image, inside) == 255).mean() > 0.95
    assert metadata.redacted_regions >= 1


def test_excluded_window_with_no_visible_area_redacts_nothing(
    x_windows: Desktop, platform: X11Platform
) -> None:
    """An excluded window entirely under another one leaves the image untouched."""
    vault(x_windows, "20x5+300+300")
    x_windows.spawn_xterm("Notes", "XTerm", "100x40+100+100")  # covers it completely
    sink = Sink()
    rules = [ExclusionRule(name="Vault", app="KeePassXC")]
    result = CapturePipeline(platform, sink, rules=rules, options=LOSSLESS).capture()
    (metadata,) = result.captured
    assert metadata.redacted_regions == 0
    assert result.redacted_regions == 0
    image = sink.image()
    assert int(np.all(image == 0, axis=2).sum()) < 500  # only xterm's text cursor is black


def test_minimized_excluded_window_redacts_nothing(
    x_windows: Desktop, platform: X11Platform
) -> None:
    """A minimized excluded window draws nothing, so nothing is blacked out."""
    hidden = vault(x_windows)
    x_windows.spawn_xterm("Notes", "XTerm", "60x15+900+300")
    x_windows.minimize(hidden)
    assert info(platform, hidden).hidden
    sink = Sink()
    rules = [ExclusionRule(name="Vault", app="KeePassXC")]
    result = CapturePipeline(platform, sink, rules=rules, options=LOSSLESS).capture()
    assert result.captured[0].redacted_regions == 0


def test_window_retitled_to_private_between_check_and_grab_drops_the_frame(
    x_windows: Desktop, platform: X11Platform
) -> None:
    """A title that turns private after the policy ran: the frame is dropped, nothing is sent."""
    browser = x_windows.spawn_xterm(
        "Bank — Mozilla Firefox", "firefox", "60x15+200+150", background="red"
    )
    racing = after_policy(
        platform,
        lambda: x_windows.retitle(browser, "Bank — Mozilla Firefox Private Browsing"),
        x_windows.settle,
    )
    sink = Sink()
    result = CapturePipeline(racing, sink, rules=default_rules(), options=LOSSLESS).capture()
    assert result.dropped
    assert sink.items == []
    assert "changed" in result.reasons[0]
    assert "Private browsing: Firefox" in result.reasons[0]
    # The next tick sees the private title from the start and blacks the window out.
    again = CapturePipeline(platform, sink, rules=default_rules(), options=LOSSLESS).capture()
    assert not again.dropped
    assert count(sink.image(), RED) == 0


def test_menu_of_an_excluded_window_is_black_also_where_it_hangs_outside_it(
    x_windows: Desktop, platform: X11Platform
) -> None:
    """A menu the vault opened (a popup naming the vault as its owner) reaching past the vault's
    frame is black in full; a normal window's menu on screen at the same time is intact."""
    box = vault(x_windows)
    notes = x_windows.spawn_xterm("Notes", "XTerm", "60x15+1000+300")
    x_windows.activate(notes)
    rect = info(platform, box).rect
    menu = Rect(rect.right - 60, rect.bottom - 40, 220, 260)
    x_windows.spawn_popup(f"220x260+{menu.x}+{menu.y}", owner=box)
    x_windows.spawn_popup("150x120+1100+700", color="00ff00", owner=notes)
    sink = Sink()
    result = CapturePipeline(platform, sink, rules=default_rules(), options=LOSSLESS).capture()
    (metadata,) = result.captured
    assert metadata.redacted_regions == 2
    assert any("popup of a window matching rule" in reason for reason in result.reasons)
    image = sink.image()
    assert count(image, RED) == 0
    assert (region(image, menu) == 0).all()
    assert (region(image, rect) == 0).all()
    assert (region(image, Rect(1100, 700, 150, 120)) == GREEN).all()


def test_popup_of_an_excluded_app_that_names_no_owner_is_black(
    x_windows: Desktop, platform: X11Platform
) -> None:
    """A popup with only the vault's class (say, its tray menu) is black, wherever it is."""
    x_windows.spawn_xterm("Notes", "XTerm", "60x15+1000+300")
    x_windows.spawn_popup("200x240+1500+700", wm_class="KeePassXC", with_pid=True)
    sink = Sink()
    result = CapturePipeline(platform, sink, rules=default_rules(), options=LOSSLESS).capture()
    assert result.captured[0].redacted_regions == 1
    image = sink.image()
    assert count(image, RED) == 0
    assert (region(image, Rect(1500, 700, 200, 240)) == 0).all()


def test_menu_opened_between_check_and_grab_drops_the_frame(
    x_windows: Desktop, platform: X11Platform
) -> None:
    """The vault opens a menu after the policy ran: the frame is dropped, nothing is sent."""
    box = vault(x_windows)
    x_windows.activate(x_windows.spawn_xterm("Notes", "XTerm", "60x15+1000+300"))
    rect = info(platform, box).rect
    racing = after_policy(
        platform,
        lambda: x_windows.spawn_popup(f"200x200+{rect.right - 50}+{rect.bottom - 50}", owner=box),
        x_windows.settle,
    )
    sink = Sink()
    result = CapturePipeline(racing, sink, rules=default_rules(), options=LOSSLESS).capture()
    assert result.dropped
    assert sink.items == []
    assert "changed" in result.reasons[0]


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_unchanged_screen_is_skipped_and_captured_again_after_the_maximum_gap(
    x_windows: Desktop, platform: X11Platform
) -> None:
    """Same screen again: skipped; after max_gap_seconds: captured anyway; a change: captured."""
    notes = x_windows.spawn_xterm("Notes", "XTerm", "60x15+300+300")
    clock = Clock()
    sink = Sink()
    options = PipelineOptions(image_format="jpeg", max_gap_seconds=120, agent_version="test")
    pipeline = CapturePipeline(platform, sink, rules=[], options=options, clock=clock)
    assert len(pipeline.capture().captured) == 1
    clock.now += timedelta(seconds=15)
    unchanged = pipeline.capture()
    assert unchanged.captured == ()
    assert "unchanged" in unchanged.skipped[0][1]
    clock.now += timedelta(seconds=120)
    assert len(pipeline.capture().captured) == 1
    x_windows.move(notes, 900, 500)
    clock.now += timedelta(seconds=15)
    assert len(pipeline.capture().captured) == 1
    assert len(pipeline.capture(force=True, reason="capture-now").captured) == 1
    assert len(sink.items) == 4


def test_titles_and_app_names_omitted_when_asked(x_windows: Desktop, platform: X11Platform) -> None:
    """omit_titles drops the window title from metadata; omit_app_names drops the app too."""
    x_windows.spawn_xterm("Quarterly report.ods", "XTerm", "60x15+300+300")
    sink = Sink()
    options = PipelineOptions(image_format="jpeg", omit_titles=True, agent_version="test")
    pipeline = CapturePipeline(platform, sink, rules=[], options=options)
    (metadata,) = pipeline.capture().captured
    assert (metadata.app_name, metadata.window_title) == ("XTerm", None)
    pipeline.update(options=PipelineOptions(omit_titles=True, omit_app_names=True))
    (metadata,) = pipeline.capture(force=True).captured
    assert (metadata.app_name, metadata.window_title) == (None, None)


def test_metadata_describes_the_encoded_bytes(x_windows: Desktop, platform: X11Platform) -> None:
    """Metadata follows the contract: size, hash and dimensions of the bytes handed over."""
    import hashlib

    x_windows.spawn_xterm("Notes", "XTerm", "60x15+300+300")
    sink = Sink()
    options = PipelineOptions(max_dimension=960, agent_version="9.9.9")
    CapturePipeline(platform, sink, rules=[], options=options).capture()
    ((metadata, data, thumbnail),) = sink.items
    assert metadata.mime_type == "image/jpeg"
    assert metadata.byte_size == len(data)
    assert metadata.sha256 == hashlib.sha256(data).hexdigest()
    assert (metadata.width, metadata.height) == (960, 540)
    assert Image.open(io.BytesIO(data)).size == (960, 540)
    assert metadata.id.version == 7
    assert metadata.agent_version == "9.9.9"
    assert thumbnail is not None
    assert max(Image.open(io.BytesIO(thumbnail)).size) <= 320


TWO_MONITORS = [Monitor(0, Rect(0, 0, 960, 1080)), Monitor(1, Rect(960, 0, 960, 1080))]


def test_window_across_two_monitors_is_black_on_both(
    x_windows: Desktop, platform: X11Platform
) -> None:
    """An excluded window spanning two (injected) monitors is blacked out in both captures."""
    across = x_windows.spawn_xterm(
        "Bank — Mozilla Firefox Private Browsing", "firefox", "80x15+700+200", background="red"
    )
    x_windows.activate(x_windows.spawn_xterm("Notes", "XTerm", "40x10+100+700"))
    sink = Sink()
    pipeline = CapturePipeline(
        platform,
        sink,
        rules=default_rules(),
        options=LOSSLESS,
        monitors_provider=lambda: list(TWO_MONITORS),
    )
    result = pipeline.capture()
    assert [m.monitor for m in result.captured] == [0, 1]
    assert [m.redacted_regions for m in result.captured] == [1, 1]
    rect = info(platform, across).rect
    left, right = sink.image(0), sink.image(1)
    assert left.shape[:2] == right.shape[:2] == (1080, 960)
    assert count(left, RED) == count(right, RED) == 0
    assert (region(left, Rect(rect.x, rect.y, 960 - rect.x, rect.height)) == 0).all()
    assert (region(right, Rect(0, rect.y, rect.right - 960, rect.height)) == 0).all()
    # Only the monitor showing the focused window names it.
    assert [m.window_title for m in result.captured] == ["Notes", None]


def test_only_enabled_monitors_are_captured(x_windows: Desktop, platform: X11Platform) -> None:
    """With monitors = {1}, only the second monitor is captured."""
    sink = Sink()
    options = PipelineOptions(monitors=frozenset({1}), agent_version="test")
    pipeline = CapturePipeline(
        platform, sink, rules=[], options=options, monitors_provider=lambda: list(TWO_MONITORS)
    )
    assert [m.monitor for m in pipeline.capture().captured] == [1]
    pipeline.update(options=PipelineOptions(monitors=frozenset({5}), agent_version="test"))
    result = pipeline.capture()
    assert result.captured == ()
    assert "no enabled monitor" in result.skipped[0][1]


def test_rules_updated_at_runtime_apply_to_the_next_capture(
    x_windows: Desktop, platform: X11Platform
) -> None:
    """A rule added while running blacks out the window from the next capture on."""
    x_windows.spawn_xterm("Payroll", "Spreadsheet", "60x15+200+150", background="red")
    sink = Sink()
    pipeline = CapturePipeline(platform, sink, rules=[], options=LOSSLESS)
    pipeline.capture()
    assert count(sink.image(), RED) > 10_000
    pipeline.update(rules=[ExclusionRule(name="Payroll", title="payroll")])
    pipeline.capture(force=True)
    assert count(sink.image(), RED) == 0


def test_audit_log_records_decisions_without_excluded_titles(
    x_windows: Desktop, platform: X11Platform, tmp_path: object
) -> None:
    """The audit log says what was captured, skipped and why, never naming an excluded window."""
    import json
    from pathlib import Path

    path = Path(str(tmp_path)) / "audit.jsonl"
    audit = AuditLog(path)
    x_windows.spawn_xterm("Notes", "XTerm", "60x15+900+300")
    vault(x_windows)
    rules = [ExclusionRule(name="Vault", app="KeePassXC", action=RuleAction.SKIP)]
    pipeline = CapturePipeline(platform, Sink(), rules=rules, options=LOSSLESS, audit=audit)
    pipeline.capture()
    x_windows.activate(x_windows.spawn_xterm("Notes 2", "XTerm", "60x15+900+600"))
    pipeline.capture()
    audit.close()
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    assert [e["event"] for e in entries] == ["skipped", "captured"]
    assert "Vault" in entries[0]["reasons"][0]
    assert entries[1]["window_title"] == "Notes 2"
    assert entries[1]["rules"] == ["Vault"]
    assert "Passwords.kdbx" not in path.read_text()


def test_still_screen_is_rejected_without_a_grab_and_drawing_is_noticed(
    x_windows: Desktop, platform: X11Platform
) -> None:
    """With nothing drawn the tick does not even grab; text typed into a window is a change."""
    notes = x_windows.spawn_xterm("Notes", "XTerm", "60x15+300+300")
    clock = Clock()
    sink = Sink()
    options = PipelineOptions(change_threshold=0.0, agent_version="test")
    pipeline = CapturePipeline(platform, sink, rules=[], options=options, clock=clock)
    assert len(pipeline.capture().captured) == 1
    clock.now += timedelta(seconds=15)
    still = pipeline.capture()
    assert still.captured == ()
    assert "nothing was drawn" in still.skipped[0][1]
    assert "grab" not in still.timings
    x_windows.run("xdotool", "type", "--window", str(notes.id), "hello world")
    x_windows.settle()
    clock.now += timedelta(seconds=15)
    typed = pipeline.capture()
    assert len(typed.captured) == 1
