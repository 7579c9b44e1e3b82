"""GNOME frames through the portal's ScreenCast: a session per tick versus a stream kept open.

Runs a real headless GNOME Shell 43 (tests/support/gnome.py) at 1920x1080 with a foot window
whose text changes every second (a clock), the screens shared as after the one-time dialog.

    uv run python benchmarks/gnome_screencast.py [--ticks N] [--seconds S] [--interval I]

Printed:
- per tick (what Jarvis does): wall time of open session + one frame + close, and the CPU it
  costs this process with its gst-launch child, and GNOME Shell;
- GNOME Shell's CPU per minute over the same span of a changing screen with no cast, with a
  cast kept open (a pipewire consumer taking every frame), and with a session per tick every
  `interval` seconds (the agent's default capture interval is 15 s).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.gnome import Gnome, start_gnome

from jarvis_platform.gnome_dbus import Bus
from jarvis_platform.gnome_screencast import ScreenCastFrames, _Session


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def per_tick(gnome: Gnome, token: Path, ticks: int) -> tuple[float, float, float]:
    """Median wall ms, this process's CPU ms (with gst-launch) and GNOME Shell's CPU ms a tick."""
    frames = ScreenCastFrames(gnome.session_bus, token)
    walls, mine, shells = [], [], []
    try:
        [monitor] = frames.monitors()
        for _ in range(ticks):
            cpu, shell, start = _own_cpu(), _cpu_seconds(gnome.shell.pid), time.perf_counter()
            frames.grab(monitor)
            frames.release()
            walls.append(time.perf_counter() - start)
            mine.append(_own_cpu() - cpu)
            shells.append(_cpu_seconds(gnome.shell.pid) - shell)
    finally:
        frames.close()
    return (statistics.median(v) * 1000 for v in (walls, mine, shells))  # type: ignore[return-value]


def shell_per_minute(gnome: Gnome, seconds: float) -> float:
    before = _cpu_seconds(gnome.shell.pid)
    time.sleep(seconds)
    return (_cpu_seconds(gnome.shell.pid) - before) * 60.0 / seconds * 1000


def kept_open(gnome: Gnome, token: Path, seconds: float) -> float:
    """GNOME Shell's CPU ms per minute while one session stays open and a consumer takes every
    frame (what a long-running stream costs)."""
    bus = Bus(gnome.session_bus, fds=True)
    session = _Session(bus, token.read_text().strip(), 30.0)
    try:
        assert session.fd is not None
        node = session.streams[0][0]
        pipeline = ["pipewiresrc", f"fd={session.fd}", f"path={node}", "!", "fakesink"]
        consumer = subprocess.Popen(
            ["gst-launch-1.0", "-q", *pipeline],
            pass_fds=(session.fd,),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(3.0)  # the stream is negotiated and flowing
            return shell_per_minute(gnome, seconds)
        finally:
            consumer.terminate()
            consumer.wait()
    finally:
        session.close(bus)
        bus.close()


def ticking(gnome: Gnome, token: Path, seconds: float, interval: float) -> float:
    """GNOME Shell's CPU ms per minute with a session per tick every `interval` seconds."""
    frames = ScreenCastFrames(gnome.session_bus, token)
    try:
        [monitor] = frames.monitors()
        before, start = _cpu_seconds(gnome.shell.pid), time.monotonic()
        while time.monotonic() - start < seconds:
            tick = time.monotonic()
            frames.grab(monitor)
            frames.release()
            time.sleep(max(0.0, interval - (time.monotonic() - tick)))
        spent = time.monotonic() - start
        return (_cpu_seconds(gnome.shell.pid) - before) * 60.0 / spent * 1000
    finally:
        frames.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--interval", type=float, default=15.0)
    args = parser.parse_args()
    gnome = start_gnome()
    try:
        token = gnome.base / "screencast.token"
        gnome.grant_screencast(token)
        clock = "while :; do date +%T.%N; sleep 1; done"
        gnome._spawn(
            ["foot", "--app-id", "clock", "--title", "clock", "sh", "-c", clock], "clock", "clock"
        )
        wall, mine, shell = per_tick(gnome, token, args.ticks)
        print(f"GNOME ScreenCast, a session per tick (1920x1080, median of {args.ticks}):")
        print(
            f"  {wall:.0f} ms wall, {mine:.0f} ms CPU here (with gst-launch), {shell:.0f} ms "
            "CPU in GNOME Shell"
        )
        print(f"GNOME Shell CPU per minute, a clock ticking on screen, over {args.seconds:.0f} s:")
        print(f"  no cast:                      {shell_per_minute(gnome, args.seconds):.0f} ms")
        print(
            f"  a session per tick every {args.interval:.0f} s: "
            f"{ticking(gnome, token, args.seconds, args.interval):.0f} ms"
        )
        print(f"  one stream kept open:         {kept_open(gnome, token, args.seconds):.0f} ms")
    finally:
        gnome.stop()


if __name__ == "__main__":
    main()
