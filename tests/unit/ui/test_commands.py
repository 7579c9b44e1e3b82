"""`jarvis` / `jarvis tray` / `jarvis up` where they cannot run: a clear message, exit code 1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from jarvis_agent.paths import agent_paths
from jarvis_agent.runtime.instance_lock import AgentLock
from jarvis_ui.startup import quit_on_signals, wait_for_tray
from jarvis_ui.up import UpError, ensure_server

JARVIS = str(Path(sys.executable).with_name("jarvis"))


def _jarvis(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [JARVIS, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    env.update(extra)
    return env


@pytest.mark.parametrize("args", [(), ("tray",), ("up",)])
def test_no_display_points_to_headless_mode(args: tuple[str, ...]) -> None:
    """Without a display every tray entry point explains itself and names `run --headless`."""
    done = _jarvis(_env(), *args)
    assert done.returncode == 1
    assert "DISPLAY is not set" in done.stderr
    assert "jarvis run --headless" in done.stderr
    assert "Traceback" not in done.stderr
    assert "Server:" not in done.stderr  # `up` starts nothing it cannot use


@pytest.mark.parametrize("args", [(), ("tray",), ("up",)])
def test_wayland_without_a_runtime_dir_is_explained(args: tuple[str, ...]) -> None:
    """A Wayland session's shell without XDG_RUNTIME_DIR (sudo, su, ssh) gets the reason and
    the way forward from every tray entry point, not GTK's bare "cannot open display:"."""
    env = _env(XDG_SESSION_TYPE="wayland", WAYLAND_DISPLAY="wayland-0")
    env.pop("XDG_RUNTIME_DIR", None)
    done = _jarvis(env, *args)
    assert done.returncode == 1
    assert "XDG_RUNTIME_DIR is not set" in done.stderr
    assert "jarvis run --headless" in done.stderr
    assert "cannot open display" not in done.stderr
    assert "Traceback" not in done.stderr


def test_up_speaks_before_its_slow_imports() -> None:
    """`jarvis up` says what it is about to do before loading the config, HTTP client and Qt (a
    second or so), so its first line comes at once, even when it then stops for lack of a
    display."""
    done = _jarvis(_env(), "up")
    assert done.stderr.splitlines()[0] == (
        "Up: getting a local server on port 8765, a device token and the tray ready"
    )
    assert "DISPLAY is not set" in done.stderr


def test_wayland_session_is_refused_with_the_reason() -> None:
    """In a Wayland session the tray says why it cannot work and what to do."""
    done = _jarvis(_env(XDG_SESSION_TYPE="wayland", DISPLAY=":0"))
    assert done.returncode == 1
    assert "Wayland" in done.stderr
    assert "jarvis run --headless" in done.stderr


def test_port_taken_by_another_program_is_named() -> None:
    """`jarvis up` refuses a port some other program listens on, and says how to choose one."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        with pytest.raises(UpError, match=f"Cannot use port {port} .*--port"):
            ensure_server(port, say=lambda _: None)


def test_no_tray_host_is_detected_after_waiting(qapp: QApplication) -> None:
    """With no tray host (offscreen here) the wait gives up and the status window is used."""
    assert wait_for_tray(qapp, timeout=0.3) is False


def test_sigterm_during_start_up_is_not_lost(qapp: QApplication) -> None:
    """A SIGTERM before the event loop runs ends the wait for a tray host at once and is kept
    for start-up to act on (app.quit() alone does nothing before app.exec())."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        request = quit_on_signals(qapp)
        os.kill(os.getpid(), signal.SIGTERM)
        started = time.monotonic()
        assert wait_for_tray(qapp, timeout=120, quit_request=request) is False
        assert request.requested
        assert time.monotonic() - started < 60  # a bound for a broken wait, not a timing claim
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


def test_cli_stays_light_without_the_tray() -> None:
    """Loading the tray's commands (as every `jarvis` call does) does not load Qt or pynput."""
    code = (
        "import sys, jarvis_ui.commands as c, click; "
        "c.register(click.Group()); "
        "print(any(m.startswith(('PySide6', 'pynput')) for m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "False"


def test_up_without_a_keyring_says_so_before_starting_anything() -> None:
    """With no working keyring, `jarvis up` says so in plain words and starts no server."""
    env = _env(DISPLAY=":0", PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring")
    env.pop("JARVIS_SECRETS_FILE", None)
    done = _jarvis(env, "up")
    assert done.returncode == 1
    # `jarvis up` announces what it is about to do; the refusal comes before any step.
    lines = done.stderr.splitlines()
    assert lines[0].startswith("Up: ")
    assert lines[1].startswith("jarvis: No keyring is working on this computer, so nothing was")
    assert "Start and unlock your desktop's keyring" in done.stderr
    assert "Server:" not in done.stderr
    assert not (agent_paths().log_dir / "server.log").exists()


def test_second_up_gives_one_hint_once(tmp_path: Path) -> None:
    """A `jarvis up` while Jarvis runs prints one line with one hint, and starts nothing."""
    lock = AgentLock(agent_paths().lock_file)
    lock.acquire()
    try:
        done = _jarvis(_env(DISPLAY=":0", JARVIS_SECRETS_FILE=str(tmp_path / "secrets.json")), "up")
    finally:
        lock.release()
    assert done.returncode == 1
    # The announcement of what `up` is about to do, then one line with one hint.
    lines = done.stderr.splitlines()
    assert lines[0].startswith("Up: getting a local server on port 8765")
    assert lines[1:] == [
        f"jarvis: Jarvis is already running (pid {os.getpid()}); its tray icon is up. To "
        "restart it, quit it from the tray menu first."
    ]
