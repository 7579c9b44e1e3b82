"""A real headless agent (`jarvis run --headless` as a subprocess) on the real X desktop, syncing to
a real server, with its secrets in the real Secret Service; driven through the real `jarvis` CLI.
"""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from jarvis_agent.config import ConfigStore
from jarvis_agent.control import AgentNotRunningError, ControlClient, socket_path
from jarvis_agent.paths import agent_paths
from jarvis_contract import CaptureRecord
from jarvis_sync import credentials
from tests.support.desktop import Desktop
from tests.support.keyring import SecretService
from tests.support.server import LiveServer, make_server

JARVIS = str(Path(sys.executable).with_name("jarvis"))
_WAIT = 60.0  # bound for a broken agent; a healthy one answers in well under a second

# Settings every agent test starts from: no scheduled capture or window trigger gets in the way of
# the capture a test asks for, the idle gate is off (the test desktop has no keyboard user), PNG
# keeps pixels exact.
BASE_SETTINGS = {
    "capture.interval_seconds": "3600",
    "capture.jitter_seconds": "0",
    "capture.window_change_trigger": "false",
    "capture.image_format": "png",
    "privacy.idle_threshold_seconds": "0",
}


def wait_for(predicate: Any, what: str, timeout: float = _WAIT) -> Any:
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


def jarvis(
    *args: str, check: bool = False, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real `jarvis` command line with the test's environment."""
    done = subprocess.run(
        [JARVIS, *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and done.returncode != 0:
        pytest.fail(f"jarvis {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done


@dataclass
class HeadlessAgent:
    """One `jarvis run --headless` process and the server it uploads to."""

    server: LiveServer
    desktop: Desktop
    home: Path
    device: str
    process: subprocess.Popen[str] | None = None
    output: list[str] = field(default_factory=list)

    @property
    def store(self) -> ConfigStore:
        return ConfigStore(agent_paths().config_file)

    def configure(self, **settings: str) -> None:
        """Write settings (dotted key -> raw value, as `jarvis config set` takes them)."""
        for key, value in settings.items():
            self.store.set_value(key.replace("__", "."), value)

    def start(self, *extra: str) -> None:
        self.process = subprocess.Popen(
            [JARVIS, "run", "--headless", *extra],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        wait_for(self._answers, "the agent's control socket")
        # The start-up tick has run once the state is no longer "starting".
        wait_for(lambda: self.status()["reasons"] != ["starting"], "the agent's first tick")

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            out = self.process.stdout.read() if self.process.stdout else ""
            pytest.fail(f"the agent exited with {self.process.returncode}: {out}")
        try:
            return ControlClient(socket_path(agent_paths()), timeout=5).request("ping").ok
        except AgentNotRunningError:
            return False

    def status(self) -> dict[str, Any]:
        """The agent's status over its control socket (tests of the CLI itself use `jarvis`)."""
        reply = ControlClient(socket_path(agent_paths()), timeout=30).request("status")
        assert reply.status is not None
        return reply.status

    def stop(self) -> str:
        """SIGTERM, as a session logout does; returns everything the agent printed."""
        if self.process is None or self.process.returncode is not None:
            return ""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                out, _ = self.process.communicate(timeout=_WAIT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                out, _ = self.process.communicate()
        else:
            out = self.process.stdout.read() if self.process.stdout else ""
        self.output.append(out)
        return out

    def stored(self) -> list[CaptureRecord]:
        """Captures the server has stored from this agent, oldest first."""
        return [record for record in self.server.captures() if record.device == self.device]

    def sync_and_wait(self, count: int) -> list[CaptureRecord]:
        """Ask for an upload and wait until the server holds `count` captures."""
        jarvis("sync-now", check=True)
        return list(
            wait_for(
                lambda: (found := self.stored()) and len(found) >= count and found,
                f"{count} capture(s) on the server",
            )
        )

    def queued(self) -> int:
        return int(self.status()["sync"]["queued"])


@pytest.fixture(scope="module")
def agent_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real server for a module's agents; each test's agent is a device of its own."""
    server = make_server(tmp_path_factory.mktemp("agent-server"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


_devices = itertools.count(1)


@pytest.fixture
def headless_agent(
    x_windows: Desktop, secret_service: SecretService, agent_server: LiveServer, jarvis_home: Path
) -> Iterator[HeadlessAgent]:
    """An agent set up against the module's server (its token in the keyring), not yet started."""
    del secret_service  # its environment is what matters: the agent finds the keyring through it
    device = f"agent-{next(_devices)}"
    credentials.store_token(agent_server.create_token(device))
    agent = HeadlessAgent(server=agent_server, desktop=x_windows, home=jarvis_home, device=device)
    agent.configure(**BASE_SETTINGS, **{"server.url": agent_server.url})
    try:
        yield agent
    finally:
        agent.stop()
        credentials.delete_token()
