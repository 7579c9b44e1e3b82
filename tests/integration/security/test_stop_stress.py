"""Trust review item 14: a stop that hangs.

About one stop in thirty under load, `jarvis run --headless` did not exit after SIGTERM: the
signal handler called Event.set(), whose lock the main loop's once-a-second wake-up held at that
moment, so the main thread waited for itself for ever. Other waits of the stop had no deadline
either: it waited up to 10 s for uploads to a stalled server, and the interpreter joined a
capture worker stuck in a C call at exit.

These tests stop the agent hundreds of times at random moments on the real desktop, with the
focus and titles changing, captures every second, uploads held back by the fault proxy in front
of the real server (some stalled), and every few stops a control client holding its connection
open. Each stop must end: the process must exit, or the in-process service's stop() return,
within HANG_BOUND. The promise is 5 s; the bound is twice that, because a loaded CI machine slows
a stop that keeps its promise (the stop's own budget is 3 s, a watchdog ends the process at
4.5 s), while a hang never ends and the old wait for a stalled upload took 10 s. The stop time
itself is measured by benchmarks/stop_latency.py, not asserted here. Afterwards every capture the
outbox accepted is on the server exactly once.
"""

from __future__ import annotations

import os
import random
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jarvis_agent.config import ConfigStore
from jarvis_agent.paths import agent_paths
from jarvis_agent.runtime.service import AgentService
from jarvis_sync import Outbox, credentials
from jarvis_sync.credentials import outbox_key
from tests.support.agent_stops import STRESS_ENV, StopHarness, open_idle_client, percentile
from tests.support.desktop import Desktop
from tests.support.faultproxy import FaultProxy
from tests.support.keyring import SecretService
from tests.support.server import LiveServer

# The run takes a few minutes on a loaded 2-core machine (the suite's default limit is 300 s).
pytestmark = [pytest.mark.x11, pytest.mark.keyring, pytest.mark.slow, pytest.mark.timeout(1200)]

PROMISE = 5.0  # seconds from SIGTERM (or Quit) to the end of the agent
HANG_BOUND = (
    2 * PROMISE
)  # room for a loaded machine; a hang, or a wait for a stalled upload, is longer
IN_PROCESS_STOPS = 100
PROCESS_STOPS = 20
# A clean exit, or the stop watchdog's forced one (EXIT_STUCK in jarvis_agent.cli.runtime).
EXITS = (0, 70)
IDLE_CLIENT_EVERY = 5  # one stop in five has a control client holding its connection open


@pytest.fixture
def stress(
    x_windows: Desktop,
    secret_service: SecretService,
    live_server: LiveServer,
    jarvis_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[StopHarness, LiveServer]]:
    """The harness: windows to churn, the proxy in front of the server, a device token."""
    del secret_service, jarvis_home  # their environment is what matters
    proxy = FaultProxy(live_server.port)
    for name, value in {**STRESS_ENV, "JARVIS_SERVER__URL": proxy.url}.items():
        monkeypatch.setenv(name, value)
    credentials.store_token(live_server.create_token("stop-stress"))
    harness = StopHarness(x_windows, proxy, tmp_path, dict(os.environ), hang_after=HANG_BOUND)
    harness.prepare()
    try:
        yield harness, live_server
    finally:
        proxy.close()
        credentials.delete_token()


def _stop_in_thread(service: AgentService) -> float | None:
    """Seconds stop() took, or None if it had not returned after HANG_BOUND."""
    started = time.monotonic()
    stopper = threading.Thread(target=service.stop, daemon=True)
    stopper.start()
    stopper.join(HANG_BOUND)
    return None if stopper.is_alive() else time.monotonic() - started


def _delivered_exactly_once(
    harness: StopHarness, server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, int, int]:
    """Drain with one more service (its start-up capture the only one) and nothing injected;
    (left queued, acknowledged, stored)."""
    harness.proxy.clear()
    monkeypatch.setenv("JARVIS_CAPTURE__INTERVAL_SECONDS", "3600")
    monkeypatch.setenv("JARVIS_CAPTURE__WINDOW_CHANGE_TRIGGER", "false")
    service = AgentService(ConfigStore(), paths=agent_paths(), configure_logs=False)
    service.start()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and service.status().reasons == ("starting",):
            time.sleep(0.1)
        service.sync_now()
        while time.monotonic() < deadline and service.status().sync.queued:
            time.sleep(0.2)
    finally:
        service.stop()
    outbox = Outbox.open(agent_paths().outbox_dir, key=outbox_key())
    try:
        stats = outbox.stats()
    finally:
        outbox.close()
    stored = [r for r in server.captures() if r.device == "stop-stress"]
    assert len({r.id for r in stored}) == len(stored)
    return stats.pending + stats.in_flight + stats.dead, stats.sent_total, len(stored)


def test_hundreds_of_stops_at_random_moments_all_end(
    stress: tuple[StopHarness, LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hundreds of in-process stops (as the tray's Quit does) and dozens of SIGTERMs to
    `jarvis run --headless`, at random moments amid captures, window changes and uploads in
    flight: every one ends, and every capture the outbox accepted reaches the server once."""
    harness, server = stress
    rng = random.Random(14)
    slow: list[str] = []
    times: list[float] = []
    with harness.churning():
        for n in range(IN_PROCESS_STOPS):
            service = AgentService(ConfigStore(), paths=agent_paths(), configure_logs=False)
            service.start()
            client: socket.socket | None = None
            if n % IDLE_CLIENT_EVERY == 0:
                client = open_idle_client()
            time.sleep(rng.uniform(0.0, 0.5))
            took = _stop_in_thread(service)
            if client is not None:
                client.close()
            if took is None:
                pytest.fail(f"in-process stop {n + 1} had not returned after {HANG_BOUND:g} s")
            times.append(took)
        in_process = len(times)
        for n in range(PROCESS_STOPS):
            result = harness.stop_once(
                rng.uniform(0.0, 3.0), idle_client=n % IDLE_CLIENT_EVERY == 0
            )
            if result.hung:
                slow.append(f"stop {n + 1} at {result.moment:.2f} s:\n{result.stacks}")
            else:
                assert result.returncode in EXITS, result
                assert result.seconds is not None
                times.append(result.seconds)
    assert not slow, f"{len(slow)} of {PROCESS_STOPS} SIGTERMs never ended:\n" + "\n".join(slow)
    print(
        f"\n{in_process} in-process stops: max {max(times[:in_process]):.2f} s; "
        f"{len(times) - in_process} SIGTERMs: max {max(times[in_process:]):.2f} s; all: p99 "
        f"{percentile(times, 0.99):.2f} s (promise {PROMISE:g} s; see benchmarks/stop_latency.py)"
    )

    queued, acknowledged, stored = _delivered_exactly_once(harness, server, monkeypatch)
    assert queued == 0
    assert acknowledged == stored > 0
