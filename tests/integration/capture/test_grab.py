"""Grabbing monitors on a real X server: the pixels are the screen's, with or without MIT-SHM."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import mss
import numpy as np
import pytest

from jarvis_platform import Monitor, Rect
from jarvis_platform.grab import Grabber
from tests.support.desktop import ROOT_RGB, Desktop, start_xvfb

pytestmark = pytest.mark.x11

SCREEN = Monitor(0, Rect(0, 0, 1920, 1080))
LEFT, RIGHT = Monitor(0, Rect(0, 0, 960, 1080)), Monitor(1, Rect(960, 0, 960, 1080))
RED_BGR = (0, 0, 255)
ROOT_BGR = (ROOT_RGB & 0xFF, (ROOT_RGB >> 8) & 0xFF, ROOT_RGB >> 16)


@pytest.fixture
def grabber() -> Iterator[Grabber]:
    grabs = Grabber()
    try:
        yield grabs
    finally:
        grabs.close()


def bgr(pixels: np.ndarray, x: int, y: int) -> tuple[int, int, int]:
    b, g, r, _ = pixels[y, x]
    return int(b), int(g), int(r)


def mss_copy(display: str, monitor: Monitor) -> np.ndarray:
    rect = monitor.rect
    with mss.MSS(display=display) as sct:
        shot = sct.grab({"left": rect.x, "top": rect.y, "width": rect.width, "height": rect.height})
        return np.frombuffer(shot.raw, dtype=np.uint8).reshape(rect.height, rect.width, 4)


def test_each_grab_shows_the_screen_as_it_is_then(x_windows: Desktop, grabber: Grabber) -> None:
    """A red window appears in the next grab and is gone from the one after it closes."""
    assert bgr(grabber.grab(SCREEN).pixels, 200, 180) == ROOT_BGR
    window = x_windows.spawn_xterm("Red", "XTerm", "40x10+100+100", background="red")
    x_windows.settle()
    frame = grabber.grab(SCREEN)
    assert bgr(frame.pixels, 200, 180) == RED_BGR
    assert np.array_equal(frame.pixels[..., :3], mss_copy(x_windows.display, SCREEN)[..., :3])
    x_windows.close(window)
    x_windows.settle()
    assert bgr(grabber.grab(SCREEN).pixels, 200, 180) == ROOT_BGR


def test_frames_of_two_monitors_in_one_tick_are_distinct(
    x_windows: Desktop, grabber: Grabber
) -> None:
    """Grabbing the right monitor does not overwrite the left one's frame, nor does writing."""
    x_windows.spawn_xterm("Red", "XTerm", "40x10+100+100", background="red")
    x_windows.settle()
    left, right = grabber.grab(LEFT), grabber.grab(RIGHT)
    assert bgr(left.pixels, 200, 180) == RED_BGR
    assert bgr(right.pixels, 200, 180) == ROOT_BGR
    right.wipe()
    assert bgr(left.pixels, 200, 180) == RED_BGR
    assert not right.pixels.any()
    # Writing into a frame (as redaction does) never reaches the screen.
    assert bgr(grabber.grab(RIGHT).pixels, 200, 180) == ROOT_BGR


def frame_memory_kb() -> int:
    """Resident kB of this process's frame buffers (the jarvis-frame segments), from smaps."""
    total, inside = 0, False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        fields = line.split()
        if fields and not fields[0].endswith(":"):  # a mapping's header line
            inside = "jarvis-frame" in line
        elif inside and fields[0] == "Rss:":
            total += int(fields[1])
    return total


def test_released_buffers_hold_no_frame_and_the_next_grab_is_whole(
    x_windows: Desktop, grabber: Grabber
) -> None:
    """Between two ticks no frame stays in memory; the grab after that is the full screen."""
    x_windows.spawn_xterm("Red", "XTerm", "40x10+100+100", background="red")
    x_windows.settle()
    frame = grabber.grab(SCREEN)
    assert np.array_equal(frame.pixels[..., :3], mss_copy(x_windows.display, SCREEN)[..., :3])
    assert frame_memory_kb() >= 1920 * 1080 * 4 // 1024  # every page was read, as encoding does
    del frame
    grabber.release()
    assert frame_memory_kb() == 0
    frame = grabber.grab(SCREEN)
    assert bgr(frame.pixels, 200, 180) == RED_BGR
    assert np.array_equal(frame.pixels[..., :3], mss_copy(x_windows.display, SCREEN)[..., :3])


@pytest.fixture
def display_without_shm(tmp_path: Path) -> Iterator[str]:
    """A bare Xvfb without MIT-SHM (as over ssh -X) and a red xterm on it; no window manager.

    No start_desktop (openbox, root colour): python-xlib keeps extension event codes in a class
    attribute shared by every connection, so one process cannot talk Xlib to two servers whose
    extensions differ (mss uses XCB and is not affected).
    """
    xvfb, display = start_xvfb(1920, 1080, tmp_path / "xvfb.log", "-br", "-extension", "MIT-SHM")
    processes = [xvfb]
    try:
        processes.append(
            subprocess.Popen(
                ["xterm", "-display", display, "-geometry", "40x10+100+100", "-bg", "red"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        yield display
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait()


def test_without_mit_shm_frames_come_from_plain_get_image(
    display_without_shm: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server without MIT-SHM still gives the true, writable pixels."""
    monkeypatch.setenv("DISPLAY", display_without_shm)
    grabs = Grabber()
    try:
        deadline = time.monotonic() + 10
        frame = grabs.grab(SCREEN)
        while bgr(frame.pixels, 200, 180) != RED_BGR and time.monotonic() < deadline:
            time.sleep(0.05)  # xterm is still starting
            frame = grabs.grab(SCREEN)
        assert bgr(frame.pixels, 200, 180) == RED_BGR
        assert bgr(frame.pixels, 1500, 900) == (0, 0, 0)  # -br: a black root
        assert np.array_equal(frame.pixels, mss_copy(display_without_shm, SCREEN))
        frame.wipe()
        assert not frame.pixels.any()
    finally:
        grabs.close()
