"""Which signals show Chromium's private windows on X11, per launch mode, over N captures.

Starts its own Xvfb + openbox and, with the accessibility bus on, a normal Chromium and one
started with --incognito (tests/support/chromium.py). For each of N captures per mode the private
window shows a fresh page (a new title each time: the title-change path is exercised):
- "launch": the window of `chromium --incognito`, navigated to page i;
- "ctrl+shift+n": a new private window opened from the normal window with Ctrl+Shift+N, then
  navigated to page i, closed after the capture.
Per capture and signal, whether the signal told the private window apart (X11 properties are
compared with the normal window's: "differs" counts), and whether the pipeline with the shipped
rules stored the private window black (the end result). Also the cost of one accessibility read.

    uv run python benchmarks/private_windows.py [--captures N]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support

import numpy as np
from PIL import Image
from tests.support.chromium import BANK_RGB, ChromiumSession, start_chromium_session
from tests.support.desktop import start_desktop
from Xlib import X, display

from jarvis_agent.capture.pipeline import CapturePipeline, PipelineOptions
from jarvis_agent.capture.rules import default_rules, match_rule
from jarvis_contract import CaptureMetadata
from jarvis_platform.atspi import AtspiFrames
from jarvis_platform.types import WindowInfo
from jarvis_platform.x11 import X11Platform

PROPS = ("WM_CLASS", "WM_WINDOW_ROLE", "_NET_WM_ICON", "_NET_WM_WINDOW_TYPE", "_NET_WM_STATE")
SIGNALS = (
    "X11 title marker",
    *(f"X11 {name} differs" for name in PROPS),
    "accessible name marker",
    "/proc cmdline --incognito",
    "stored black (shipped rules)",
)


def x_props(name: str, wid: int) -> dict[str, object]:
    d = display.Display(name)
    try:
        window = d.create_resource_object("window", wid)
        values: dict[str, object] = {}
        for prop in PROPS:
            got = window.get_full_property(d.intern_atom(prop), X.AnyPropertyType)
            values[prop] = (
                bytes(got.value)
                if got is not None and got.format == 8
                else (tuple(got.value) if got is not None else None)
            )
        return values
    finally:
        d.close()


def observe(
    session: ChromiumSession, platform: X11Platform, private_id: int, normal_id: int
) -> Counter[str]:
    """One capture of the private window: which signals showed it."""
    seen: Counter[str] = Counter()
    windows = {w.id: w for w in platform.windows()}
    private = windows[private_id]
    rules = default_rules()
    if match_rule(rules, private.app_name, private.title) is not None:
        seen["X11 title marker"] += 1
    mine, theirs = (
        x_props(session.desktop.display, private_id),
        x_props(session.desktop.display, normal_id),
    )
    for prop in PROPS:
        if mine[prop] != theirs[prop]:
            seen[f"X11 {prop} differs"] += 1
    if match_rule(rules, private.app_name, None, accessible_names=private.accessible_names):
        seen["accessible name marker"] += 1
    if "--incognito" in private.process_flags:
        seen["/proc cmdline --incognito"] += 1
    if stored_black(platform, private):
        seen["stored black (shipped rules)"] += 1
    return seen


def stored_black(platform: X11Platform, private: WindowInfo) -> bool:
    frames: list[np.ndarray] = []

    def sink(metadata: CaptureMetadata, data: bytes, thumbnail: bytes | None) -> None:
        frames.append(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))

    options = PipelineOptions(image_format="png", agent_version="bench")
    CapturePipeline(platform, sink, rules=default_rules(), options=options).capture(force=True)
    if not frames:
        return True  # nothing stored at all
    r = private.rect
    area = frames[0][max(r.y, 0) : r.bottom, max(r.x, 0) : r.right]
    return not bool(np.all(area == BANK_RGB, axis=2).any())


def run_mode(
    session: ChromiumSession,
    platform: X11Platform,
    captures: int,
    prepare: Callable[[int], tuple[int, int, Callable[[], None]]],
) -> Counter[str]:
    total: Counter[str] = Counter()
    for i in range(captures):
        private_id, normal_id, done = prepare(i)
        try:
            session.desktop.settle(timeout=30)
            total += observe(session, platform, private_id, normal_id)
        finally:
            done()
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", type=int, default=10)
    args = parser.parse_args()
    desktop = start_desktop()
    session = start_chromium_session(desktop)
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = session.bus
    os.environ["DISPLAY"] = desktop.display
    platform = X11Platform(desktop.display)
    try:
        assert session.private is not None
        assert session.normal is not None
        normal_id = session.wait_window("Work notes - Chromium", session.normal.pid)
        launched = session.wait_window("Bank statement - Chromium", session.private.pid)

        def launch(i: int) -> tuple[int, int, Callable[[], None]]:
            title = f"Bank statement {i}"
            wid = session.navigate(launched, session.page(f"l{i}", title), title)
            return wid, normal_id, lambda: None

        def ctrl_shift_n(i: int) -> tuple[int, int, Callable[[], None]]:
            wid = session.open_private_window(normal_id)
            title = f"Account {i}"
            session.navigate(wid, session.page(f"n{i}", title), title)
            session.desktop.run("xdotool", "windowmove", "--sync", str(wid), "960", "20")
            return wid, normal_id, lambda: session.close_window(wid)

        results = {
            "--incognito at launch": run_mode(session, platform, args.captures, launch),
            "Ctrl+Shift+N": run_mode(session, platform, args.captures, ctrl_shift_n),
        }
        frames = AtspiFrames()
        costs = []
        for _ in range(20):
            start = time.perf_counter()
            frames.frames()
            costs.append(time.perf_counter() - start)
        frames.close()
    finally:
        platform.close()
        session.stop()
        desktop.stop()

    modes = list(results)
    print(
        f"Chromium private windows on X11: captures showing the private window, of {args.captures}"
    )
    print(f"{'signal':34s}" + "".join(f"{mode:>24s}" for mode in modes))
    for signal in SIGNALS:
        print(
            f"{signal:34s}" + "".join(f"{results[m][signal]:>21d}/{args.captures}" for m in modes)
        )
    print(
        f"one read of every accessible frame (both processes): "
        f"{statistics.median(costs) * 1000:.1f} ms median of 20"
    )


if __name__ == "__main__":
    main()
