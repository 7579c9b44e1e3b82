"""`jarvis up`: a local jarvis-server, a device token in the keyring, and the tray pointed at it.

The server runs as a child process on its embedded defaults (SQLite and storage under the user's
data dir, or $JARVIS_HOME/server). The token is read from `jarvis-server token create`'s stdout
and goes straight into the keyring: never into process arguments, files or log lines. A second
`jarvis up` reuses a server that already answers and a token the server still accepts.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

from jarvis_agent.config import ConfigStore
from jarvis_agent.paths import agent_paths
from jarvis_sync import credentials
from jarvis_ui.connection import check_connection

LOCAL_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
SERVER_START_SECONDS = 60.0  # first start migrates a fresh SQLite database
HEALTH_TIMEOUT = httpx.Timeout(2.0)


class UpError(RuntimeError):
    """`jarvis up` cannot continue; the message says what went wrong and what to do."""


@dataclass
class LocalServer:
    """The server `jarvis up` uses; `process` is set only when this run started it."""

    url: str
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def started_here(self) -> bool:
        return self.process is not None

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server if this run started it (SIGTERM, then SIGKILL after `timeout`)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def server_answers(url: str) -> bool:
    """Whether a Jarvis server answers /health at `url`."""
    try:
        reply = httpx.get(f"{url}/health", timeout=HEALTH_TIMEOUT)
    except httpx.HTTPError:
        return False
    return reply.status_code == 200


def _server_argv(*args: str) -> list[str]:
    # The same interpreter and environment as this agent, so the bundled server is the one used.
    return [sys.executable, "-m", "jarvis_server", *args]


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((LOCAL_HOST, port)) == 0


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def ensure_server(port: int = DEFAULT_PORT, say: Callable[[str], None] = print) -> LocalServer:
    """The local server at 127.0.0.1:`port`: the one already answering, or a new child process."""
    url = f"http://{LOCAL_HOST}:{port}"
    if server_answers(url):
        say(f"Server: using the Jarvis server already running at {url}")
        return LocalServer(url)
    if _port_taken(port):
        raise UpError(
            f"Port {port} on {LOCAL_HOST} is taken by a program that is not a Jarvis server; "
            f"stop it, or run `jarvis up --port N` with a free port."
        )
    paths = agent_paths().ensure()
    log_path = paths.log_dir / "server.log"
    # Private: the server logs device names and capture ids. 0600 whatever the umask, and an
    # older log left readable by others is tightened too (the server also checks its stderr).
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    if os.name == "posix":
        os.fchmod(fd, 0o600)
    log_file: IO[bytes] = os.fdopen(fd, "ab")
    try:
        process = subprocess.Popen(
            _server_argv("serve", "--host", LOCAL_HOST, "--port", str(port)),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl+C in the terminal reaches us; we stop the server
        )
    finally:
        log_file.close()
    server = LocalServer(url, process, log_path)
    deadline = time.monotonic() + SERVER_START_SECONDS
    while not server_answers(url):
        if process.poll() is not None:
            raise UpError(
                f"The local Jarvis server exited with code {process.returncode} at start-up. "
                f"Its log ({log_path}) ends with:\n{_tail(log_path)}"
            )
        if time.monotonic() > deadline:
            server.stop()
            raise UpError(
                f"The local Jarvis server did not answer at {url} within "
                f"{SERVER_START_SECONDS:.0f} s; see {log_path}."
            )
        time.sleep(0.2)
    say(f"Server: started a local Jarvis server at {url} (log: {log_path})")
    return server


def device_name() -> str:
    return (socket.gethostname().split(".")[0] or "this-computer")[:128]


def ensure_token(url: str, say: Callable[[str], None] = print) -> bool:
    """A token the server at `url` accepts, in the keyring; True if a new one was created."""
    stored = credentials.load_token()
    if stored is not None:
        result = check_connection(url, stored)
        if result.token_valid:
            say("Token: the device token in the keyring is valid; reusing it")
            return False
        if not result.reachable:
            raise UpError(result.message)
        say("Token: the server refused the stored token; creating a new one")
    name = device_name()
    done = subprocess.run(
        _server_argv("token", "create", "--device", name),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    token = done.stdout.strip()
    if done.returncode != 0 or not token:
        # stderr carries the reason; the token is only ever on stdout.
        raise UpError(
            f"`jarvis-server token create --device {name}` failed ({done.returncode}): "
            f"{done.stderr.strip() or 'no message'}"
        )
    accepted = check_connection(url, token).token_valid
    if not accepted:
        # The server answering there keeps its tokens elsewhere (another JARVIS_HOME or database).
        raise UpError(
            f"The server at {url} does not accept a token created from this computer's server "
            "data: it was started with another data directory or database. Stop that server, "
            "or run `jarvis up --port N` to start a local one on another port."
        )
    credentials.store_token(token)
    del token
    say(f"Token: created a device token for {name!r} and stored it in the keyring")
    return True


def point_agent_at(url: str, say: Callable[[str], None] = print) -> None:
    """Set server.url in the agent's config file (the one `jarvis config` edits)."""
    store = ConfigStore()
    if store.load_file().server.url != url:
        store.set_value("server.url", url)
        say(f"Config: server.url = {url} ({store.path})")


def up(port: int = DEFAULT_PORT, say: Callable[[str], None] = print) -> int:
    """Everything `jarvis up` does; returns the tray app's exit code."""
    from jarvis_ui.app import run_tray
    from jarvis_ui.startup import NoDisplayError, display_problem

    problem = display_problem()
    if problem is not None:  # before starting anything that would need stopping again
        raise NoDisplayError(problem)
    server = ensure_server(port, say)
    try:
        ensure_token(server.url, say)
        point_agent_at(server.url, say)
        say("Tray: starting Jarvis (quit it from the tray menu)")
        return run_tray()
    finally:
        if server.started_here:
            say("Server: stopping the local Jarvis server")
            server.stop()
