"""Changes too small for the old change check, on a real X server with real xterms, stored on the
real server: a retitled window, one new line in a terminal; and what must still be skipped: a
blinking cursor, a clock in a region the user chose to ignore."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jarvis_agent.capture.pipeline import (
    WINDOW_CHANGE_TRIGGER,
    CapturePipeline,
    PipelineOptions,
    TickResult,
)
from jarvis_agent.capture.rules import default_rules
from jarvis_agent.config import IgnoreRegion
from jarvis_platform.x11 import X11Platform
from tests.support.desktop import Desktop, Window, private_desktop
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
def platform(x_windows: Desktop) -> Iterator[X11Platform]:
    x11 = X11Platform(x_windows.display)
    try:
        yield x11
    finally:
        x11.close()


def pipeline(
    platform: X11Platform, sink: UploadSink, options: PipelineOptions = LOSSLESS
) -> CapturePipeline:
    return CapturePipeline(platform, sink, rules=default_rules(), options=options)


def terminal(desktop: Desktop, log: Path) -> Window:
    """A real xterm following a file (`tail -f`): each line appended shows up in it."""
    log.write_text("$ tail -f chat.log\n")
    return desktop.spawn_xterm("Chat", "XTerm", "80x24+300+200", command=("tail", "-f", str(log)))


def ticks(capture: CapturePipeline, seconds: float) -> list[TickResult]:
    """Scheduled ticks every 0.13 s for `seconds` (real frames: whatever the screen shows)."""
    results = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        results.append(capture.capture())
        time.sleep(0.13)
    return results


def test_retitled_window_is_stored_though_no_pixel_changed(
    x_windows: Desktop, platform: X11Platform, upload_sink: UploadSink
) -> None:
    """The focused window's title changes (an undecorated window: the title is drawn nowhere):
    the window-change capture reaches the server with the new title; a scheduled tick on the
    same still screen is skipped."""
    window = x_windows.spawn_xterm("Inbox (3)", "XTerm", "60x15+300+200")
    x_windows.run(
        "xprop", "-id", str(window.id), "-f", "_MOTIF_WM_HINTS", "32c",
        "-set", "_MOTIF_WM_HINTS", "2, 0, 0, 0, 0",
    )  # fmt: skip
    x_windows.settle()
    capture = pipeline(platform, upload_sink)
    assert len(capture.capture(reason=WINDOW_CHANGE_TRIGGER).captured) == 1
    assert capture.capture().captured == ()

    x_windows.retitle(window, "Inbox (4)")
    assert capture.capture().captured == ()  # a scheduled tick still goes by pixels
    result = capture.capture(reason=WINDOW_CHANGE_TRIGGER)
    assert len(result.captured) == 1, result.skipped
    stored = upload_sink.records()
    assert [record.window_title for record in stored] == ["Inbox (3)", "Inbox (4)"]
    # Nothing changed since: the next window-change capture is skipped again.
    assert capture.capture(reason=WINDOW_CHANGE_TRIGGER).captured == ()


def test_one_new_line_of_ten_characters_is_stored(
    x_windows: Desktop, platform: X11Platform, upload_sink: UploadSink, tmp_path: Path
) -> None:
    """One line of ten characters appended in a terminal is a change worth storing."""
    log = tmp_path / "chat.log"
    terminal(x_windows, log)
    capture = pipeline(platform, upload_sink)
    assert len(capture.capture().captured) == 1
    assert capture.capture().captured == ()
    with log.open("a") as out:
        out.write("ok, 14:05\n")
    x_windows.settle()
    result = capture.capture()
    assert len(result.captured) == 1, result.skipped
    assert len(upload_sink.records()) == 2


def test_blinking_cursor_is_never_stored(
    x_windows: Desktop, platform: X11Platform, upload_sink: UploadSink
) -> None:
    """A terminal whose cursor blinks (xterm -bc, 300 ms on, 200 ms off) on an otherwise still
    screen: five seconds of ticks store nothing after the first capture."""
    x_windows.spawn_xterm(
        "Shell",
        "XTerm",
        "80x24+300+200",
        command=("sh", "-c", "printf 'ready $ '; exec sleep 3600"),
        extra=("-bc", "-xrm", "*cursorOnTime: 300", "-xrm", "*cursorOffTime: 200"),
    )
    capture = pipeline(platform, upload_sink)
    assert len(capture.capture().captured) == 1
    results = ticks(capture, 5.0)
    assert sum(len(r.captured) for r in results) == 0
    grabbed = [r for r in results if "grab" in r.timings]
    assert grabbed, "the cursor never blinked: the test would prove nothing"
    assert len(upload_sink.records()) == 1


def test_clock_in_an_ignored_region_is_never_stored_and_elsewhere_it_is(
    x_windows: Desktop, platform: X11Platform, upload_sink: UploadSink
) -> None:
    """A counter redrawing ten digits four times a second: with its region in
    capture.ignore_regions nothing more is stored; without, its change is caught."""
    clock = x_windows.spawn_xterm(
        "Clock",
        "XTerm",
        "12x1+1700+0",
        command=("sh", "-c", "while :; do printf '\\r%s' \"$(date +%S%N | cut -c1-10)\"; "
                 "sleep 0.25; done"),
    )  # fmt: skip
    rect = next(w.rect for w in platform.windows() if w.id == clock.id)
    ignored = PipelineOptions(
        image_format="png",
        agent_version="test",
        ignore_regions=(IgnoreRegion(x=rect.x, y=rect.y, width=rect.width, height=rect.height),),
    )
    capture = pipeline(platform, upload_sink, ignored)
    assert len(capture.capture().captured) == 1
    assert sum(len(r.captured) for r in ticks(capture, 3.0)) == 0

    watched = pipeline(platform, upload_sink)
    assert len(watched.capture().captured) == 1
    assert sum(len(r.captured) for r in ticks(watched, 3.0)) >= 1
