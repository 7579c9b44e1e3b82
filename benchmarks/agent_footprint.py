"""How much the headless agent costs while it runs: CPU time and resident memory, from /proc.

Starts a real desktop (Xvfb + openbox, with a clock window so the screen changes now and then), a
local Jarvis server, and `jarvis run --headless` at the default 15 s interval (window-change
trigger on, as shipped), then samples the agent's CPU time and RSS every few seconds for the
given duration. Prints % of one core (whole run and after warm-up) and peak RSS against the
targets: under 0.5 % of a core and under 100 MB RSS.

    uv run python benchmarks/agent_footprint.py               # 30 minutes
    uv run python benchmarks/agent_footprint.py --minutes 5

The device token and the outbox key go to a plaintext secrets file in the run's private temporary
directory (JARVIS_SECRETS_FILE), so no keyring daemon has to run for half an hour.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.desktop import start_desktop
from tests.support.server import make_server

CPU_TARGET = 0.5  # % of one core
RSS_TARGET_MB = 100.0
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process (threads included), from /proc/PID/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return pages * PAGE / 1024 / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="how long to measure")
    parser.add_argument("--sample", type=float, default=5.0, help="seconds between samples")
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds left out of 'steady'")
    parser.add_argument("--interval", type=float, default=15.0, help="capture interval, seconds")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="jarvis-footprint-"))
    desktop = start_desktop()
    server = make_server(work / "server")
    agent: subprocess.Popen[str] | None = None
    try:
        server.start()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JARVIS_", "WAYLAND_"))}
        env.update(
            DISPLAY=desktop.display,
            JARVIS_HOME=str(work / "agent"),
            JARVIS_SECRETS_FILE=str(work / "secrets.json"),
            # No one touches this desktop's keyboard: the idle gate would stop captures.
            JARVIS_PRIVACY__IDLE_THRESHOLD_SECONDS="0",
            JARVIS_SERVER__URL=server.url,
        )
        os.environ.update(env)
        from jarvis_sync import credentials

        credentials.store_token(server.create_token("footprint"))
        # A window whose text changes every 30 s: some ticks capture, the others see no change.
        desktop.spawn_xterm(
            "clock",
            "XTerm",
            "100x30+100+100",
            command=(
                "sh",
                "-c",
                "while :; do clear; date; ls -l /usr/bin | shuf -n 25; sleep 30; done",
            ),
        )
        jarvis = str(Path(sys.executable).with_name("jarvis"))
        agent = subprocess.Popen(
            [jarvis, "run", "--headless", "--interval", str(args.interval)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        time.sleep(2)
        if agent.poll() is not None:
            print(f"the agent exited with {agent.returncode}", file=sys.stderr)
            return 1
        start_wall, start_cpu = time.monotonic(), cpu_seconds(agent.pid)
        warm_wall = warm_cpu = None
        peak = 0.0
        samples: list[float] = []
        end = start_wall + args.minutes * 60
        while time.monotonic() < end:
            time.sleep(args.sample)
            if agent.poll() is not None:
                print(f"the agent exited with {agent.returncode}", file=sys.stderr)
                return 1
            rss = rss_mb(agent.pid)
            samples.append(rss)
            peak = max(peak, rss)
            if warm_wall is None and time.monotonic() - start_wall >= args.warmup:
                warm_wall, warm_cpu = time.monotonic(), cpu_seconds(agent.pid)
        wall, cpu = time.monotonic(), cpu_seconds(agent.pid)
        total_pct = 100 * (cpu - start_cpu) / (wall - start_wall)
        steady_pct = (
            100 * (cpu - warm_cpu) / (wall - warm_wall)
            if warm_wall is not None and warm_cpu is not None and wall > warm_wall
            else total_pct
        )
        stored = len(server.captures())
        minutes = (wall - start_wall) / 60
        print(
            f"headless agent, {args.interval:g} s interval, {minutes:.1f} min under Xvfb 1920x1080"
        )
        print(f"  captures stored on the server: {stored}")
        print(f"  CPU, whole run:        {total_pct:.3f} % of one core")
        print(
            f"  CPU, after {args.warmup:.0f} s warm-up: {steady_pct:.3f} % of one core"
            f"   (target < {CPU_TARGET} %: {'met' if steady_pct < CPU_TARGET else 'MISSED'})"
        )
        print(
            f"  RSS: peak {peak:.1f} MB, mean {sum(samples) / max(len(samples), 1):.1f} MB, "
            f"last {samples[-1] if samples else 0:.1f} MB"
            f"   (target < {RSS_TARGET_MB:.0f} MB: {'met' if peak < RSS_TARGET_MB else 'MISSED'})"
        )
        return 0
    finally:
        if agent is not None and agent.poll() is None:
            agent.send_signal(signal.SIGTERM)
            try:
                agent.wait(timeout=30)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()
        server.stop()
        desktop.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
