"""The change check on real terminal frames: smallest change caught, false captures, cost.

Frames are rendered for real: xterms (DejaVu Sans Mono 11 pt at 1080p, 22 pt at 4K, i.e. 2x
scaling) under Xvfb + openbox (tests/support/desktop.py), grabbed with mss. Old = the change
check before issue 15 (changed share of the ~640 px sample > 0.1 %), new = this tree's (also a
line of changed samples >= 32 px across, noise tiles dropped, ignore regions).

- smallest change caught: a line of k digits rewritten in place (each of the k digits changes),
  k = 1..12, at 1920x1080 and 3840x2160;
- false captures on a still screen over a simulated 10 minutes: a blinking cursor (xterm -bc,
  600 ms on / 300 ms off) and a panel clock (hh:mm:ss, redrawn every second) in a region the
  user ignores; ticks at random moments (40 ticks = 10 minutes at the default 15 s interval, the
  clock of course only runs for the real seconds); the same again with sparse pixel noise
  (0.02 % of pixels flipped per frame) added to the real frames;
- unchanged-frame cost: a pipeline tick on a still screen, with X DAMAGE (no grab) and by pixels,
  with the pipeline and change check of `--before` (default: the commit before issue 15) and of
  this tree, in the same run.

    uv run python benchmarks/change_check.py [--ticks N] [--frames N] [--before REV]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
import types
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support

import mss
import numpy as np
from tests.support.desktop import Desktop, start_desktop

from jarvis_agent.capture import change as new_change
from jarvis_agent.capture.pipeline import CapturePipeline, PipelineOptions
from jarvis_agent.capture.rules import default_rules
from jarvis_platform.types import Rect
from jarvis_platform.x11 import X11Platform

ROOT = Path(__file__).resolve().parents[1]
BEFORE = "9aabc58"  # main before issue 15
CHANGE_PY = "agent/src/jarvis_agent/capture/change.py"
PIPELINE_PY = "agent/src/jarvis_agent/capture/pipeline.py"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


class WithoutDamage:
    """The real X11 platform minus its DAMAGE reports: the pipeline checks pixels."""

    def __init__(self, inner: X11Platform) -> None:
        self.inner = inner

    def windows(self) -> Any:
        return self.inner.windows()

    def active_window(self) -> Any:
        return self.inner.active_window()

    def idle_seconds(self) -> float | None:
        return self.inner.idle_seconds()


def old_modules(rev: str) -> tuple[types.ModuleType, types.ModuleType]:
    """change.py and pipeline.py as they were at `rev`, loaded beside this tree's."""

    def load(name: str, path: str, rewrite: Callable[[str], str] = lambda s: s) -> Any:
        source = subprocess.run(
            ["git", "-C", str(ROOT), "show", f"{rev}:{path}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        module = types.ModuleType(name)
        sys.modules[name] = module
        exec(compile(rewrite(source), f"{rev}:{path}", "exec"), module.__dict__)  # noqa: S102
        return module

    change = load("old_change", CHANGE_PY)
    pipeline = load(
        "old_pipeline",
        PIPELINE_PY,
        lambda s: s.replace("from jarvis_agent.capture.change import", "from old_change import"),
    )
    return change, pipeline


def grab(desktop: Desktop) -> np.ndarray:
    with mss.MSS(display=desktop.display) as sct:
        shot = sct.grab(sct.monitors[1])
        return np.array(shot, dtype=np.uint8).reshape(shot.height, shot.width, 4)


def terminal(desktop: Desktop, log: Path, points: int, blink: bool = False) -> None:
    extra = ("-fa", "DejaVu Sans Mono", "-fs", str(points))
    if blink:
        extra += ("-bc",)
    desktop.spawn_xterm(
        "Terminal", "XTerm", "70x20+200+150", command=("tail", "-f", str(log)), extra=extra
    )


def verdicts(
    detector: Any, frame: np.ndarray, ignore: tuple[Rect, ...] = (), **kw: Any
) -> tuple[bool, Any]:
    args = {"threshold": 0.001, "max_gap_seconds": 1e9, **kw}
    if ignore:
        args["ignore"] = ignore
    verdict, sample = detector.check(0, frame, T0 + timedelta(seconds=1), **args)
    return verdict.capture, sample


def smallest_caught(width: int, height: int, old_change: types.ModuleType) -> tuple[int, int]:
    """Smallest k (changed digits in one line) caught by the old and the new check (0: none)."""
    desktop = start_desktop(width, height)
    caught = {"old": 0, "new": 0}
    try:
        log = Path(desktop._workdir or "/tmp") / "line.log"
        log.write_text("$ watch\n0000000000000\n")
        terminal(desktop, log, 11 if width <= 1920 else 22)
        for k in range(1, 13):
            desktop.settle()
            before = grab(desktop)
            digits = "".join(str((int(c) + 1) % 10) for c in "0" * k) + "0" * (13 - k)
            with log.open("a") as out:
                out.write(f"\x1b[1A\r{digits}\n")
            desktop.settle()
            after = grab(desktop)
            with log.open("a") as out:
                out.write("\x1b[1A\r0000000000000\n")
            for name, module in (("old", old_change), ("new", new_change)):
                detector = module.ChangeDetector()
                _, sample = verdicts(detector, before, force=True)
                detector.accept(0, sample, T0)
                if not caught[name] and verdicts(detector, after)[0]:
                    caught[name] = k
    finally:
        desktop.stop()
    return caught["old"], caught["new"]


def false_captures(ticks: int, old_change: types.ModuleType) -> dict[str, tuple[int, int]]:
    """Captures (old, new) over `ticks` ticks on a still screen, without and with pixel noise."""
    desktop = start_desktop()
    results: dict[str, tuple[int, int]] = {}
    try:
        log = Path(desktop._workdir or "/tmp") / "shell.log"
        log.write_text("$ make test\n... 214 passed\n$ ")
        terminal(desktop, log, 11, blink=True)
        clock = desktop.spawn_xterm(
            "Clock",
            "XTerm",
            "9x1+1800+0",
            command=("sh", "-c", "while :; do printf '\\r%s' \"$(date +%T)\"; sleep 1; done"),
        )
        x11 = X11Platform(desktop.display)
        rect = next(w.rect for w in x11.windows() if w.id == clock.id)
        x11.close()
        desktop.run("xdotool", "windowactivate", "--sync", str(desktop.client_windows()[-2]))
        ignore = (rect,)
        rng = np.random.default_rng(15)
        for label, noise in (("still screen", False), ("still screen + pixel noise", True)):
            counts = {}
            frames = []
            for _ in range(ticks):
                time.sleep(random.uniform(0.1, 0.5))
                frame = grab(desktop)
                if noise:
                    flat = frame.reshape(-1, 4)
                    hit = rng.integers(0, flat.shape[0], flat.shape[0] // 5000)
                    flat[hit, :3] ^= 0x10
                frames.append(frame)
            for name, module in (("old", old_change), ("new", new_change)):
                detector = module.ChangeDetector()
                _, sample = verdicts(detector, frames[0], force=True)
                detector.accept(0, sample, T0)
                captured = 0
                for frame in frames[1:]:
                    extra = ignore if module is new_change else ()
                    capture, sample = verdicts(detector, frame, extra)
                    if capture:
                        captured += 1
                        detector.accept(0, sample, T0)
                counts[name] = captured
            results[label] = (counts["old"], counts["new"])
    finally:
        desktop.stop()
    return results


def unchanged_cost(
    frames: int, old_pipeline: types.ModuleType
) -> dict[str, tuple[float, float, float, float]]:
    """Median ms of a still-screen tick and of its change stage (before, after; tick, change),
    with X DAMAGE and by pixels. Before and after ticks alternate, so load hits both alike."""
    desktop = start_desktop()
    os.environ["DISPLAY"] = desktop.display  # mss's grabber reads it
    costs: dict[str, tuple[float, float, float, float]] = {}
    try:
        log = Path(desktop._workdir or "/tmp") / "still.log"
        log.write_text("".join(f"line {i} of a still terminal\n" for i in range(30)))
        terminal(desktop, log, 11)
        desktop.settle()
        for label, damage in (("with X DAMAGE", True), ("by pixels", False)):
            pipelines, platforms = [], []
            for module_pipeline, module_options in (
                (old_pipeline.CapturePipeline, old_pipeline.PipelineOptions),
                (CapturePipeline, PipelineOptions),
            ):
                x11 = X11Platform(desktop.display)
                platforms.append(x11)
                pipeline = module_pipeline(
                    x11 if damage else WithoutDamage(x11),
                    lambda *_: None,
                    rules=default_rules(),
                    options=module_options(agent_version="bench"),
                )
                pipeline.capture()
                pipelines.append(pipeline)
            ticks: list[list[float]] = [[], []]
            checks: list[list[float]] = [[], []]
            for i in range(frames + 20):
                for n, pipeline in enumerate(pipelines):
                    result = pipeline.capture()
                    assert not result.captured, result
                    if i >= 20:  # warmed up
                        ticks[n].append(sum(result.timings.values()))
                        checks[n].append(result.timings.get("change", 0.0))
            for pipeline, x11 in zip(pipelines, platforms, strict=True):
                pipeline.close()
                x11.close()
            med = [statistics.median(values) * 1000 for values in (*ticks, *checks)]
            costs[label] = (med[0], med[1], med[2], med[3])
    finally:
        desktop.stop()
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=40, help="ticks of the false-capture run")
    parser.add_argument("--frames", type=int, default=200, help="ticks per cost figure")
    parser.add_argument("--before", default=BEFORE, help="git revision of the old check")
    args = parser.parse_args()
    old_change, old_pipeline = old_modules(args.before)

    print("Smallest change caught: one line, k digits rewritten in place (xterm, DejaVu Mono)")
    for width, height in ((1920, 1080), (3840, 2160)):
        old, new = smallest_caught(width, height, old_change)
        show = lambda k: f"{k} characters" if k else "none of 1-12"  # noqa: E731
        print(f"  {width}x{height}: old check {show(old)}, new check {show(new)}")

    print(f"False captures on a still screen, {args.ticks} ticks (10 min at 15 s):")
    for label, (old, new) in false_captures(args.ticks, old_change).items():
        print(f"  {label:28s} old {old}/{args.ticks - 1}, new {new}/{args.ticks - 1}")

    print(f"Unchanged-frame cost, median of {args.frames} ticks, 1920x1080:")
    for label, figures in unchanged_cost(args.frames, old_pipeline).items():
        before, after, check_before, check_after = figures
        print(
            f"  {label:14s} tick before {before:.2f} ms, after {after:.2f} ms "
            f"({after / before:.2f}x); change stage {check_before:.2f} -> {check_after:.2f} ms"
        )


if __name__ == "__main__":
    main()
