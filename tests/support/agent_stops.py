"""Stopping a real `jarvis run --headless` at random moments, and timing each stop.

Shared by the stop stress test (tests/integration/security/test_stop_stress.py) and the stop
latency benchmark (benchmarks/stop_latency.py). The agent runs as a real process on a real X
desktop, uploading to a real server through the fault proxy, with a 1 s interval and the
window-change trigger on, while a churn thread switches the focus between windows and retitles
them (as browsers do on navigation) and the proxy holds some uploads back so that some are in
flight when the signal lands.

A stop that does not end within `hang_after` seconds counts as a hang: its threads' stacks are
dumped (SIGUSR1 -> faulthandler, registered by a sitecustomize this module puts on the agent's
PYTHONPATH, so the stacks are had even from an agent that registers nothing itself), then the
process is killed so the run can go on.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from jarvis_agent.control import ControlRequest, socket_path
from jarvis_agent.paths import agent_paths
from tests.support.desktop import Desktop, Window
from tests.support.faultproxy import Delay, FaultProxy

JARVIS = str(Path(sys.executable).with_name("jarvis"))
STALL = 25.0  # seconds a stalled server takes to answer an upload

_SITECUSTOMIZE = """\
import faulthandler, os, signal
_path = os.environ.get("JARVIS_STRESS_STACKS")
if _path:
    _stacks = open(_path, "a")
    faulthandler.register(signal.SIGUSR1, file=_stacks, all_threads=True)
"""

# Settings of the stressed agent: a capture every second whatever the screen shows, and one more
# at each window change, so a capture or an outbox write is under way at most moments.
STRESS_ENV = {
    "JARVIS_CAPTURE__INTERVAL_SECONDS": "1",
    "JARVIS_CAPTURE__JITTER_SECONDS": "0",
    "JARVIS_CAPTURE__WINDOW_CHANGE_TRIGGER": "true",
    "JARVIS_CAPTURE__WINDOW_CHANGE_MIN_GAP_SECONDS": "0.5",
    "JARVIS_CAPTURE__CHANGE_THRESHOLD": "0",
    "JARVIS_CAPTURE__MAX_GAP_SECONDS": "1",
    "JARVIS_CAPTURE__IMAGE_FORMAT": "jpeg",
    "JARVIS_PRIVACY__IDLE_THRESHOLD_SECONDS": "0",
}


@dataclass(frozen=True, slots=True)
class StopResult:
    """One stop: when the signal landed (s after start), how long the exit took (None: hung)."""

    moment: float
    seconds: float | None
    returncode: int | None
    stacks: str = ""

    @property
    def hung(self) -> bool:
        return self.seconds is None


@dataclass
class StopHarness:
    """Starts and stops the agent over and over on `desktop`, uploading through `proxy`."""

    desktop: Desktop
    proxy: FaultProxy
    workdir: Path
    env: dict[str, str]
    hang_after: float = 20.0
    results: list[StopResult] = field(default_factory=list)
    _windows: list[Window] = field(default_factory=list)
    _churning: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    @property
    def home(self) -> Path:
        return Path(self.env["JARVIS_HOME"])

    @property
    def agent_log(self) -> Path:
        return self.home / "logs" / "agent.log"

    def prepare(self) -> None:
        """Open the windows the churn plays with and the sitecustomize for stack dumps."""
        hook = self.workdir / "stress-hook"
        hook.mkdir(parents=True, exist_ok=True)
        (hook / "sitecustomize.py").write_text(_SITECUSTOMIZE)
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(hook), self.env.get("PYTHONPATH", "")) if p
        )
        for n, geometry in enumerate(("60x15+50+80", "60x15+600+300", "60x15+1100+500")):
            self._windows.append(self.desktop.spawn_xterm(f"stress window {n}", "XTerm", geometry))

    @contextlib.contextmanager
    def churning(self, *, slow_uploads: bool = True) -> Iterator[None]:
        """While inside: focus switches and retitles every 50-300 ms; with `slow_uploads`, the
        proxy holds most replies back for up to 1.5 s and one in five for STALL s, so uploads
        are in flight at the stops."""
        self._churning.set()
        self._threads = [threading.Thread(target=self._churn, daemon=True)]
        if slow_uploads:
            self._threads.append(threading.Thread(target=self._slow_server, daemon=True))
        for thread in self._threads:
            thread.start()
        try:
            yield
        finally:
            self._churning.clear()
            for thread in self._threads:
                thread.join(10)
            self.proxy.clear()

    def _churn(self) -> None:
        titles = itertools.count()
        rng = random.Random(1)
        while self._churning.is_set():
            window = rng.choice(self._windows)
            if rng.random() < 0.5:
                command = ["xdotool", "windowactivate", str(window.id)]
            else:
                command = [
                    "xdotool",
                    "set_window",
                    "--name",
                    f"page {next(titles)}",
                    str(window.id),
                ]
            subprocess.run(command, env=self.desktop.env, capture_output=True, check=False)
            time.sleep(rng.uniform(0.05, 0.3))

    def _slow_server(self) -> None:
        rng = random.Random(2)
        while self._churning.is_set():
            if self.proxy.planned < 4:
                # Most replies come late; one in five not before the agent has long stopped
                # (a stalled server): the capture is stored, its acknowledgement never arrives.
                stall = rng.random() < 0.2
                self.proxy.plan(Delay(STALL if stall else rng.uniform(0.0, 1.5)))
            time.sleep(0.05)

    def stop_once(
        self, moment: float, *, idle_client: bool = False, extra: tuple[str, ...] = ()
    ) -> StopResult:
        """Start the agent, SIGTERM it `moment` s after it says it runs, and time its exit.

        With `idle_client`, a control client asks for the status and keeps its connection open
        (one connection may carry several requests), as a status poller does.
        """
        stacks = self.workdir / "stacks.txt"
        stacks.unlink(missing_ok=True)
        env = {**self.env, "JARVIS_STRESS_STACKS": str(stacks)}
        process = subprocess.Popen(
            [JARVIS, "run", "--headless", *extra],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdout is not None
        # The moment counts from "running" (the signal handlers are set): a signal during the
        # imports before it only meets Python's default action.
        first = process.stdout.readline()
        threading.Thread(target=process.stdout.read, daemon=True).start()
        client = open_idle_client() if idle_client else None
        time.sleep(moment)
        if process.poll() is not None:
            raise RuntimeError(f"the agent exited by itself ({process.returncode}): {first}")
        signalled = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(self.hang_after)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGUSR1)
            time.sleep(1.0)
            process.kill()
            process.wait()
            text = stacks.read_text() if stacks.exists() else "(no stacks were written)"
            result = StopResult(moment, None, None, text)
        else:
            result = StopResult(moment, time.monotonic() - signalled, process.returncode)
        finally:
            if client is not None:
                client.close()
        self.results.append(result)
        return result


def open_idle_client() -> socket.socket:
    """A control connection that asked for the status once and stays open."""
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(30)
    client.connect(str(socket_path(agent_paths())))
    client.sendall(ControlRequest(command="status").model_dump_json().encode() + b"\n")
    with client.makefile("rb") as stream:
        stream.readline()
    return client


def percentile(values: list[float], fraction: float) -> float:
    """The `fraction` quantile of `values` (nearest rank)."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]
