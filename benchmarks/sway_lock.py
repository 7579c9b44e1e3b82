"""What sway's lock check costs per tick: the scan of /proc for a screen locker of sway's user.

sway has no "is the session locked" request (ext-session-lock is for lockers only, and idle
notifications say nothing about locking), so the sway platform counts the session locked while a
known locker (swaylock, gtklock, waylock) of the compositor's user runs, or while logind's
LockedHint or a ScreenSaver service says so. The scan runs on every tick; this prints its median
cost on this machine's real process table, the owner-first scan beside a name-first scan (the
first version), and what the grab shows while a real swaylock holds the session.

    uv run python benchmarks/sway_lock.py [--calls N]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.support.wayland

from tests.support.wayland import SWAY_UID, start_sway, wait_for

from jarvis_platform.sway import SwayPlatform

LOCKERS = frozenset({"swaylock", "gtklock", "waylock"})


def name_first_scan(uid: int) -> bool:
    """The first version: every process's name, then its owner."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            name = (proc / "comm").read_text().strip()
            if name in LOCKERS and proc.stat().st_uid == uid:
                return True
    return False


def median_ms(call: object, calls: int) -> float:
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()  # type: ignore[operator]
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args()
    sway = start_sway()
    try:
        sway.spawn_foot("notes", "notes", background="00ff00")
        platform = SwayPlatform(str(sway.ipc_socket), str(sway.wayland_socket))
        processes = sum(1 for p in os.listdir("/proc") if p.isdigit())
        print(f"processes on this machine: {processes}")
        owner_first = median_ms(platform._locker_running, args.calls)
        name_first = median_ms(lambda: name_first_scan(SWAY_UID), args.calls)
        print(f"locker scan, owner first (now): {owner_first:6.2f} ms median")
        print(f"locker scan, name first (was):  {name_first:6.2f} ms median")
        source = platform.frame_source()
        monitor = source.monitors()[0]
        before = source.grab(monitor).pixels[540, 960].tolist()
        locker = subprocess.Popen(
            ["setpriv", f"--reuid={SWAY_UID}", f"--regid={SWAY_UID}", "--clear-groups",
             "swaylock", "--color", "0000ff"],
            env={"PATH": "/usr/bin:/bin", "WAYLAND_DISPLAY": str(sway.wayland_socket),
                 "XDG_RUNTIME_DIR": str(sway.runtime_dir), "HOME": str(sway.runtime_dir)},
        )  # fmt: skip
        wait_for(platform._locker_running, "swaylock")
        time.sleep(1)
        during = source.grab(monitor).pixels[540, 960].tolist()
        locker.kill()
        locker.wait()
        after_kill = platform.is_locked()
        time.sleep(1)
        print(f"centre pixel (BGRA): unlocked {before}, swaylock running {during}")
        print(
            f"swaylock SIGKILLed: still counted locked right after: {after_kill} "
            "(its PAM child lives on briefly)"
        )
        source.close()
        platform.close()
    finally:
        sway.stop()


if __name__ == "__main__":
    main()
