"""End-to-end tray tests: `jarvis up` as a real process on the test desktop with a real keyring."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from PIL import Image

from jarvis_contract import CAPTURES_PATH
from tests.support.desktop import Desktop
from tests.support.keyring import SecretService

# Generous: a loaded 2-core CI machine may be slow; these bound hangs, they measure nothing.
PATIENCE = 120.0
# The `jarvis` console script of this environment.
JARVIS = str(Path(sys.executable).with_name("jarvis"))


@pytest.fixture(scope="session")
def qapp_args() -> list[str]:
    """In-process Qt objects in these tests need no window: the offscreen platform suffices."""
    return ["jarvis-e2e-tests", "-platform", "offscreen"]


def wait_for(
    predicate: Callable[[], object],
    what: str,
    timeout: float = PATIENCE,
    explain: Callable[[], str] | None = None,
) -> None:
    """Poll until `predicate()` is truthy; fail naming `what` (and `explain()`) when it never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}" + (f"\n{explain()}" if explain else ""))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class JarvisUp:
    """A running `jarvis up` process and what it printed."""

    process: subprocess.Popen[str]
    port: int
    env: dict[str, str]
    lines: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def jarvis(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [JARVIS, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def status(self) -> dict[str, object]:
        done = self.jarvis("status", "--json")
        if done.returncode != 0:
            return {}
        data: dict[str, object] = json.loads(done.stdout)
        return data

    def server_cli(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "jarvis_server", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )
        return done.stdout.strip()

    def captures(self, admin_token: str) -> list[dict[str, object]]:
        """Every capture the server stored, read through its API with an admin token."""
        items: list[dict[str, object]] = []
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"limit": 100}
            if cursor:
                params["cursor"] = cursor
            reply = httpx.get(
                f"{self.url}{CAPTURES_PATH}",
                params=params,
                headers={"Authorization": f"Bearer {admin_token}"},
                timeout=30,
            )
            reply.raise_for_status()
            page = reply.json()
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def panel_pixels(desktop: Desktop) -> Image.Image:
    """The trayer panel: 200x32 at the top right of the screen (tests/support/desktop.py)."""
    screen = desktop.grab()
    return screen.crop((desktop.width - 200, 0, desktop.width, 32))


def count_near(image: Image.Image, rgb: tuple[int, int, int], tolerance: int = 40) -> int:
    """Pixels within `tolerance` of `rgb` on every channel."""
    return sum(
        1
        for pixel in image.convert("RGB").get_flattened_data()
        if all(abs(int(a) - b) <= tolerance for a, b in zip(pixel, rgb, strict=False))
    )


@pytest.fixture
def start_up(
    x_desktop: Desktop,
    tray_host: object,
    secret_service: SecretService,
    jarvis_home: Path,
    tmp_path: Path,
) -> Iterator[Callable[[int], JarvisUp]]:
    """Starts `jarvis up --port P` as a real process on the test desktop; stops it afterwards."""
    started: list[JarvisUp] = []
    env = {
        **os.environ,
        **secret_service.environ,
        "DISPLAY": x_desktop.display,
        "JARVIS_HOME": str(jarvis_home),
        "QT_QPA_PLATFORM": "xcb",
        "HOME": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("WAYLAND_DISPLAY", None)

    def start(port: int) -> JarvisUp:
        process = subprocess.Popen(
            [JARVIS, "up", "--port", str(port)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        run = JarvisUp(process, port, env)

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                run.lines.append(line.rstrip("\n"))

        threading.Thread(target=pump, daemon=True).start()
        started.append(run)
        return run

    yield start
    for run in started:
        run.stop()
