"""Fixtures: a real headless sway (wlroots) compositor, with real Wayland and Xwayland clients.

sway refuses to run as root, so it runs as a spare uid (4242, created when missing) in a fresh
0700 XDG_RUNTIME_DIR; the tests (root) reach its Wayland and IPC sockets by absolute path.
Clients (foot, a small Qt window, an Xwayland xterm) run as root against those sockets: sway
treats them like any other client. Rendering is pixman, input devices none (WLR_BACKENDS=headless).

`sway_session` (session) starts one sway for the whole test session; `sway` (per test) resets the
outputs to one 1920x1080 output at scale 1 and closes every window after the test.
`start_sway()` is the same machinery without pytest, for benchmarks/.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.processes import start_process, stop_process, stop_processes

SWAY_UID = 4242
STARTUP_TIMEOUT = 30.0  # seconds; a loaded 2-core CI box can be slow to start clients
QT_CLIENT = Path(__file__).with_name("wayland_client.py")

CONFIG = """\
output HEADLESS-1 resolution 1920x1080 position 0 0 scale 1
output * background #202020 solid_color
default_border normal 2
default_floating_border normal 2
focus_follows_mouse no
xwayland enable
for_window [title="^float:"] floating enable
"""


class SwayError(RuntimeError):
    """The test compositor could not be started or did not reach the expected state."""


def wait_for(predicate: Callable[[], object], what: str, timeout: float = STARTUP_TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise SwayError(f"timed out after {timeout:.0f}s waiting for {what}")


def _ensure_user() -> None:
    try:
        pwd.getpwuid(SWAY_UID)
    except KeyError:
        subprocess.run(["useradd", "-u", str(SWAY_UID), "-M", "jarvistest"], check=True)


@dataclass
class Client:
    """One real client window: its process and how sway names it."""

    app_id: str
    title: str
    process: subprocess.Popen[bytes]


@dataclass
class Sway:
    """A running headless sway; drive it with `msg` (swaymsg) and spawn real clients."""

    runtime_dir: Path
    wayland_socket: Path
    ipc_socket: Path
    process: subprocess.Popen[bytes]
    _clients: list[Client] = field(default_factory=list)
    _display: str | None = None

    @property
    def env(self) -> dict[str, str]:
        """The environment of a program running inside this session (the agent, a client)."""
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        env.update(
            WAYLAND_DISPLAY=str(self.wayland_socket),
            SWAYSOCK=str(self.ipc_socket),
            XDG_SESSION_TYPE="wayland",
            XDG_CURRENT_DESKTOP="sway",
        )
        if self._display:
            env["DISPLAY"] = self._display
        return env

    def xwayland_display(self) -> str | None:
        """The DISPLAY sway gives its X11 clients (Xwayland starts on the first one)."""
        if self._display is None:
            answer = self.runtime_dir / "display"
            self.msg(f"exec echo $DISPLAY > {answer}")
            text = wait_for(lambda: answer.exists() and answer.read_text().strip(), "DISPLAY")
            self._display = str(text)
        return self._display

    def msg(self, *args: str, kind: str | None = None) -> Any:
        """Run swaymsg against this sway and return its JSON reply."""
        command = ["swaymsg", "-s", str(self.ipc_socket), "-r"]
        if kind is not None:
            command += ["-t", kind]
        done = subprocess.run(
            [*command, *args], capture_output=True, text=True, timeout=30, check=False
        )
        if done.returncode != 0:
            raise SwayError(f"swaymsg {' '.join(args)} failed: {done.stdout} {done.stderr}")
        return json.loads(done.stdout) if done.stdout.strip() else None

    def tree(self) -> dict[str, Any]:
        return dict(self.msg(kind="get_tree"))

    def views(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []

        def walk(node: dict[str, Any]) -> None:
            if node.get("pid") and node["type"] in ("con", "floating_con"):
                found.append(node)
            for child in node.get("nodes", []) + node.get("floating_nodes", []):
                walk(child)

        walk(self.tree())
        return found

    def view(self, title: str) -> dict[str, Any]:
        return wait_for(
            lambda: next((v for v in self.views() if v.get("name") == title), None),
            f"a window titled {title!r}",
        )

    def command(self, criteria: str, action: str) -> None:
        reply = self.msg(f"{criteria} {action}")
        if not all(item.get("success") for item in reply):
            raise SwayError(f"sway refused {criteria} {action}: {reply}")

    # -- outputs ------------------------------------------------------------------------------

    def outputs(self) -> list[dict[str, Any]]:
        return [o for o in self.msg(kind="get_outputs") if o.get("active")]

    def set_outputs(self, layout: list[tuple[int, int, int, int, float]]) -> None:
        """Outputs as (x, y, width px, height px, scale); creates HEADLESS-n as needed.

        sway 1.7 cannot take a headless output away again (disable is ignored): a test that
        adds one runs its own sway (`own_sway`).
        """
        while len(self.msg(kind="get_outputs")) < len(layout):
            self.msg("create_output")
        names = sorted(o["name"] for o in self.msg(kind="get_outputs"))
        if len(names) > len(layout):
            raise SwayError(f"sway has {len(names)} outputs and cannot remove any")
        for name, (x, y, width, height, scale) in zip(names, layout, strict=False):
            self.msg(
                f"output {name} enable resolution {width}x{height} position {x} {y} scale {scale}"
            )
        wait_for(lambda: len(self.outputs()) == len(layout), f"{len(layout)} active outputs")
        self.settle()

    # -- clients ------------------------------------------------------------------------------

    def _spawn(self, command: list[str], app_id: str, title: str, **env: str) -> Client:
        process = subprocess.Popen(
            command,
            env={**self.env, "XDG_RUNTIME_DIR": str(self._client_runtime()), **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = Client(app_id, title, process)
        self._clients.append(client)

        def mapped() -> bool:
            if process.poll() is not None:
                raise SwayError(f"{command[0]} {title!r} exited with {process.returncode}")
            return any(v.get("name") == title and v.get("visible") for v in self.views())

        wait_for(mapped, f"{command[0]} {title!r} to be mapped")
        self.settle()
        return client

    def _client_runtime(self) -> Path:
        path = self.runtime_dir.parent / "client-runtime"
        path.mkdir(mode=0o700, exist_ok=True)
        return path

    def spawn_foot(self, app_id: str, title: str, *, background: str = "ff0000") -> Client:
        """A foot terminal with this app_id and title, its whole surface one colour."""
        return self._spawn(
            [
                "foot",
                "--app-id",
                app_id,
                "--title",
                title,
                "--override",
                f"colors.background={background}",
                "--override",
                f"colors.foreground={background}",
                "--override",
                "cursor.color=" + f"{background} {background}",
                "--override",
                "locked-title=yes",
                "sleep",
                "3600",
            ],
            app_id,
            title,
        )

    def spawn_qt(
        self,
        app_id: str,
        title: str,
        *,
        color: str = "ff0000",
        size: tuple[int, int] = (400, 300),
        popup: tuple[int, int, int, int] | None = None,
    ) -> Client:
        """A small Qt window (native Wayland) filled with `color`; with `popup` (x, y, w, h
        relative to the window) it also opens a same-coloured xdg_popup there, as a menu does."""
        command = [sys.executable, str(QT_CLIENT), "--app-id", app_id, "--title", title]
        command += ["--color", color, "--size", f"{size[0]}x{size[1]}"]
        if popup is not None:
            command += ["--popup", ",".join(str(v) for v in popup)]
        return self._spawn(command, app_id, title, QT_QPA_PLATFORM="wayland")

    def spawn_xterm(self, wm_class: str, title: str, *, background: str = "red") -> Client:
        """An X11 xterm through Xwayland with this WM_CLASS class and title, one colour."""
        display = self.xwayland_display() or ""
        return self._spawn(
            [
                "xterm",
                "-T",
                title,
                "-class",
                wm_class,
                "-bg",
                background,
                "-fg",
                background,
                "-cr",
                background,
                "+sb",
                "-e",
                "sleep",
                "3600",
            ],
            wm_class,
            title,
            DISPLAY=display,
        )

    def close(self, client: Client) -> None:
        stop_process(client.process, timeout=10)
        with contextlib.suppress(ValueError):
            self._clients.remove(client)
        wait_for(
            lambda: not any(v.get("name") == client.title for v in self.views()),
            f"{client.title!r} to close",
        )

    def close_clients(self) -> None:
        for client in list(self._clients):
            self.close(client)

    def settle(self) -> None:
        """Wait until sway has rendered what it was told (two frames of the headless output)."""
        self.msg("nop")
        time.sleep(0.15)

    def stop(self) -> None:
        stop_processes((client.process for client in self._clients), sig=signal.SIGKILL)
        stop_process(self.process)
        shutil.rmtree(self.runtime_dir.parent, ignore_errors=True)


def start_sway(config: str = CONFIG) -> Sway:
    """Start headless sway as uid 4242 and wait for its Wayland and IPC sockets."""
    if shutil.which("sway") is None:
        raise SwayError("sway is not installed: run scripts/bootstrap.sh (apt-get install sway)")
    _ensure_user()
    base = Path(tempfile.mkdtemp(prefix="jarvis-sway-"))
    base.chmod(0o755)
    runtime = base / "runtime"
    runtime.mkdir(mode=0o700)
    os.chown(runtime, SWAY_UID, SWAY_UID)
    config_file = base / "config"
    config_file.write_text(config)
    # Xwayland refuses every client ("Authorization required") unless access control is off.
    wrapper = base / "xwayland"
    wrapper.write_text('#!/bin/sh\nexec /usr/bin/Xwayland "$@" -ac\n')
    wrapper.chmod(0o755)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(runtime),
        "XDG_RUNTIME_DIR": str(runtime),
        "WLR_BACKENDS": "headless",
        "WLR_LIBINPUT_NO_DEVICES": "1",
        "WLR_RENDERER": "pixman",
        "WLR_XWAYLAND": str(wrapper),
    }
    log = (base / "sway.log").open("wb")
    process = start_process(
        ["sway", "-c", str(config_file)],
        uid=SWAY_UID,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()

    def sockets() -> tuple[Path, Path] | None:
        if process.poll() is not None:
            text = (base / "sway.log").read_text(errors="replace")[-2000:]
            raise SwayError(f"sway exited with {process.returncode}: {text}")
        wayland = sorted(runtime.glob("wayland-[0-9]"))
        ipc = sorted(runtime.glob("sway-ipc.*.sock"))
        return (wayland[0], ipc[0]) if wayland and ipc else None

    try:
        wayland_socket, ipc_socket = wait_for(sockets, "sway's sockets")
        sway = Sway(runtime, wayland_socket, ipc_socket, process)
        wait_for(lambda: sway.outputs(), "sway's first output")
    except BaseException:
        stop_process(process, sig=signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)
        raise
    return sway


@pytest.fixture(scope="session")
def sway_session() -> Iterator[Sway]:
    sway = start_sway()
    try:
        yield sway
    finally:
        sway.stop()


@pytest.fixture
def own_sway() -> Iterator[Sway]:
    """A sway of this test's own, for layouts the session's sway could not undo."""
    sway = start_sway()
    try:
        yield sway
    finally:
        sway.stop()


@pytest.fixture
def sway(sway_session: Sway) -> Iterator[Sway]:
    sway_session.set_outputs([(0, 0, 1920, 1080, 1.0)])
    try:
        yield sway_session
    finally:
        sway_session.close_clients()
