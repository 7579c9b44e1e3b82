"""How long `jarvis run --headless` takes to exit after SIGTERM, stopped at random moments.

Starts a real desktop (Xvfb + openbox, three xterms), a local Jarvis server behind the fault
proxy, then starts and SIGTERMs the agent STOPS times, each at a random moment 0-3 s after it
says it runs (during captures, window-change captures and uploads the proxy holds back), with a
1 s capture interval while the focus switches and titles change every 50-300 ms. A stop
that has not ended after --hang-after seconds is a hang: the agent's threads' stacks are printed
and it is killed. Afterwards a last agent drains the outbox, and every capture the outbox
accepted must be on the server exactly once. One stop in five has a control client holding its
connection open (as a status poller may).

Prints the number of stops, hangs, and the stop time's median, p99 and maximum against the
promise: SIGTERM ends the agent within 5 s whatever it is doing.

    uv run python benchmarks/stop_latency.py               # 100 stops
    uv run python benchmarks/stop_latency.py --stops 300

The device token and the outbox key go to a plaintext secrets file in the run's private temporary
directory (JARVIS_SECRETS_FILE), as in agent_footprint.py.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.agent_stops import JARVIS, STRESS_ENV, StopHarness, percentile
from tests.support.desktop import start_desktop
from tests.support.faultproxy import FaultProxy
from tests.support.server import make_server

PROMISE = 5.0  # seconds from SIGTERM to exit


def drain(harness: StopHarness) -> tuple[int, int]:
    """Run one agent with nothing injected until the outbox is empty; (left queued, sent)."""
    from jarvis_sync.credentials import outbox_key
    from jarvis_sync.outbox import Outbox

    env = {**harness.env, "JARVIS_CAPTURE__WINDOW_CHANGE_TRIGGER": "false"}
    env["JARVIS_CAPTURE__INTERVAL_SECONDS"] = "3600"
    agent = subprocess.Popen(
        [JARVIS, "run", "--headless"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            time.sleep(1)
            done = subprocess.run(
                [JARVIS, "status", "--json"], env=env, capture_output=True, text=True, check=False
            )
            if done.returncode == 0 and '"queued": 0' in done.stdout:
                break
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(60)
    outbox = Outbox.open(harness.home / "data" / "outbox", key=outbox_key())
    try:
        stats = outbox.stats()
    finally:
        outbox.close()
    return stats.pending + stats.in_flight + stats.dead, stats.sent_total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stops", type=int, default=100, help="how many stops")
    parser.add_argument("--hang-after", type=float, default=20.0, help="seconds before a hang")
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--quiet-uploads", action="store_true", help="no uploads held back")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="jarvis-stops-"))
    desktop = start_desktop()
    server = make_server(work / "server")
    proxy: FaultProxy | None = None
    try:
        server.start()
        proxy = FaultProxy(server.port)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JARVIS_", "WAYLAND_"))}
        env.update(
            STRESS_ENV,
            DISPLAY=desktop.display,
            JARVIS_HOME=str(work / "agent"),
            JARVIS_SECRETS_FILE=str(work / "secrets.json"),
            JARVIS_SERVER__URL=proxy.url,
        )
        os.environ.update(env)
        from jarvis_sync import credentials

        credentials.store_token(server.create_token("stops"))
        harness = StopHarness(desktop, proxy, work, env, hang_after=args.hang_after)
        harness.prepare()
        rng = random.Random(args.seed)
        with harness.churning(slow_uploads=not args.quiet_uploads):
            for n in range(args.stops):
                result = harness.stop_once(rng.uniform(0.0, 3.0), idle_client=n % 5 == 0)
                if result.hung:
                    print(f"stop {n + 1}: HUNG (signal {result.moment:.2f} s after start)")
                    print(result.stacks)
                elif n % 10 == 9:
                    print(f"{n + 1} stops...", flush=True)
        times = [r.seconds for r in harness.results if r.seconds is not None]
        hangs = sum(1 for r in harness.results if r.hung)
        over = sum(1 for t in times if t > PROMISE)
        queued, sent = drain(harness)
        stored = len(server.captures())
        print(f"stops of `jarvis run --headless` at random moments: {len(harness.results)}")
        print(f"  hung (no exit within {args.hang_after:g} s): {hangs}")
        print(f"  exited but later than {PROMISE:g} s:       {over}")
        if times:
            print(
                f"  stop time: median {statistics.median(times):.2f} s, "
                f"p99 {percentile(times, 0.99):.2f} s, max {max(times):.2f} s "
                f"(promise: {PROMISE:g} s: {'met' if not hangs and not over else 'MISSED'})"
            )
        print(
            f"  delivery: {sent} captures acknowledged, {stored} on the server, "
            f"{queued} left in the outbox "
            f"({'exactly once' if sent == stored and queued == 0 else 'MISMATCH'})"
        )
        return 0 if not hangs and not over and sent == stored and queued == 0 else 1
    finally:
        if proxy is not None:
            proxy.close()
        server.stop()
        desktop.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
