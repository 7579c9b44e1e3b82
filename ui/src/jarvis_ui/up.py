"""`jarvis up`: a local jarvis-server, a device token in the keyring, and the tray pointed at it.

The server runs as a child process on its embedded defaults (SQLite and storage under the user's
data dir, or $JARVIS_HOME/server). The token is read from `jarvis-server token create`'s stdout
and goes straight into the keyring: never into process arguments, files or log lines. A second
`jarvis up` reuses a server that already answers and a token the server still accepts.

Nothing is sent to a program on the port until it proves it is this user's own server: on Linux
the kernel must say the listening socket is this user's, and always the server must answer a
challenge with the user's identity key, a 0600 file whose path `jarvis up` gives the server it
starts (JARVIS_IDENTITY_KEY_FILE, never in argv). A stranger on the port gets a random nonce and
nothing else, and the user gets an error naming the port.

The server dies with its owner: on Linux the kernel sends it SIGTERM when `jarvis up` dies
(PR_SET_PDEATHSIG, even after kill -9); elsewhere, and as a second line, a record in the runtime
dir lets the next `jarvis up` adopt a server whose owner is gone and stop it on quit.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from jarvis_agent.config import ConfigStore
from jarvis_agent.paths import agent_paths
from jarvis_contract import MIGRATING_NOTICE
from jarvis_sync import (
    CredentialsError,
    KeyringUnavailableError,
    ServerClient,
    ServerError,
    TokenRefusedError,
    credentials,
)
from jarvis_sync.trust import load_identity_key
from jarvis_ui.errors import UIError

LOCAL_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
SERVER_START_SECONDS = 60.0  # first start migrates a fresh SQLite database
HEALTH_TIMEOUT = 2.0  # seconds: a local server answers at once
IDENTITY_KEY_ENV: Final = "JARVIS_IDENTITY_KEY_FILE"
_PR_SET_PDEATHSIG: Final = 1


class UpError(UIError, RuntimeError):
    """`jarvis up` cannot continue; the message says what went wrong and what to do."""


def _alive(pid: int) -> bool:
    if sys.platform == "win32":  # os.kill(pid, 0) would terminate the process there
        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x00100000, False, pid)  # SYNCHRONIZE
        if not handle:
            return False
        try:
            return bool(kernel32.WaitForSingleObject(handle, 0) == 0x102)  # WAIT_TIMEOUT
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):  # a zombie has ended; only its parent waits
        stat_fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return stat_fields[0] != "Z"
    return True


@dataclass
class LocalServer:
    """The server `jarvis up` uses: `process` when this run started it, `adopted_pid` when it
    took over one whose owner died; neither when another live `jarvis up` owns it."""

    url: str
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    adopted_pid: int | None = None

    @property
    def started_here(self) -> bool:
        return self.process is not None or self.adopted_pid is not None

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the server if this run owns it (SIGTERM, then SIGKILL after `timeout`)."""
        process, self.process = self.process, None
        adopted, self.adopted_pid = self.adopted_pid, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if adopted is not None:
            _stop_pid(adopted, timeout)
        with contextlib.suppress(OSError):
            agent_paths().local_server_record.unlink()


def _stop_pid(pid: int, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def identity_key() -> bytes:
    """The user's identity key (made on first use), which the local server proves itself with."""
    paths = agent_paths().ensure()
    try:
        return load_identity_key(paths.server_identity_key, create=True)
    except CredentialsError as exc:
        raise UpError(str(exc)) from None


def local_server_problem(port: int, key: bytes) -> str | None:
    """Why the listener on 127.0.0.1:`port` is not this user's own Jarvis server (None: it is).

    Only a random nonce is sent to find out.
    """
    url = f"http://{LOCAL_HOST}:{port}"
    with ServerClient(url, timeout=HEALTH_TIMEOUT, identity_key=key) as server:
        return server.identity_problem()


def _stranger_error(port: int, problem: str) -> UpError:
    return UpError(
        f"Cannot use port {port} on {LOCAL_HOST}: {problem}. Stop that program, or run "
        f"`jarvis up --port N` with a free port N."
    )


def _server_argv(*args: str) -> list[str]:
    # The same interpreter and environment as this agent, so the bundled server is the one used.
    return [sys.executable, "-m", "jarvis_server", *args]


def _port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        return probe.connect_ex((LOCAL_HOST, port)) == 0


def _migrating(log_path: Path, start: int) -> bool:
    """Whether the server said, in what it logged since `start`, that it migrates."""
    try:
        with log_path.open("rb") as log:
            log.seek(start)
            return MIGRATING_NOTICE.encode() in log.read(65536)
    except OSError:
        return False


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _die_with_owner() -> Callable[[], None] | None:
    """A pre-exec hook (Linux): the kernel sends the server SIGTERM when this process dies."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before the fork
    owner = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != owner:  # the owner died before the hook ran
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


def _write_record(port: int, server_pid: int) -> None:
    record = agent_paths().local_server_record
    data = json.dumps({"port": port, "pid": server_pid, "owner": os.getpid()}).encode()
    temp = record.with_name(record.name + ".tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(temp, record)


def _orphan_pid(port: int) -> int | None:
    """The pid of a server an earlier `jarvis up` started on `port` and no longer owns."""
    try:
        record = json.loads(agent_paths().local_server_record.read_text(encoding="utf-8"))
        pid, owner, recorded_port = int(record["pid"]), int(record["owner"]), int(record["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if recorded_port != port or _alive(owner) or not _alive(pid):
        return None
    cmdline = Path(f"/proc/{pid}/cmdline")
    # Where the kernel tells, make sure the pid was not reused by some other program.
    with contextlib.suppress(OSError):
        if b"jarvis_server" not in cmdline.read_bytes():
            return None
    return pid


def ensure_server(
    port: int = DEFAULT_PORT,
    say: Callable[[str], None] = print,
    *,
    key: bytes | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> LocalServer:
    """This user's server at 127.0.0.1:`port`: one that proves it is, or a new child process.
    `meanwhile` runs while a new server starts (on the other core), before waiting for it."""
    url = f"http://{LOCAL_HOST}:{port}"
    key = key if key is not None else identity_key()
    if _port_taken(port):
        problem = local_server_problem(port, key)
        if problem is not None:
            raise _stranger_error(port, problem)
        orphan = _orphan_pid(port)
        if orphan is not None:
            _write_record(port, orphan)
            say(
                f"Server: adopted the local Jarvis server at {url} that an earlier `jarvis up` "
                f"left running (pid {orphan}); it stops when you quit"
            )
            return LocalServer(url, adopted_pid=orphan)
        say(f"Server: using the Jarvis server already running at {url}")
        return LocalServer(url)
    paths = agent_paths().ensure()
    log_path = paths.log_dir / "server.log"
    # Its first start migrates a fresh database: seconds in which nothing else is said.
    say(f"Server: starting a local Jarvis server at {url}; waiting for it to answer")
    # Private: the server logs device names and capture ids. 0600 whatever the umask, and an
    # older log left readable by others is tightened too (the server also checks its stderr).
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    if os.name == "posix":
        os.fchmod(fd, 0o600)
    log_file: IO[bytes] = os.fdopen(fd, "ab")
    log_start = os.fstat(fd).st_size  # what this start writes comes after
    try:
        process = subprocess.Popen(
            _server_argv("serve", "--host", LOCAL_HOST, "--port", str(port)),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, IDENTITY_KEY_ENV: str(paths.server_identity_key)},
            start_new_session=True,  # Ctrl+C in the terminal reaches us; we stop the server
            preexec_fn=_die_with_owner(),  # one prctl call between fork and exec
        )
    finally:
        log_file.close()
    server = LocalServer(url, process, log_path)
    _write_record(port, process.pid)
    if meanwhile is not None:
        try:
            meanwhile()
        except BaseException:
            server.stop()
            raise
    deadline: float | None = time.monotonic() + SERVER_START_SECONDS
    while (problem := local_server_problem(port, key)) is not None:
        if deadline is not None and _migrating(log_path, log_start):
            # An update's migration may rebuild an index of every capture: minutes, not seconds.
            say(
                "Server: upgrading its database after an update; with many captures this takes "
                f"minutes (~1.5 per 100,000). Waiting for it; its log: {log_path}"
            )
            deadline = None
        if process.poll() is not None:
            server.stop()
            if _port_taken(port):  # someone else bound the port first
                raise _stranger_error(port, local_server_problem(port, key) or problem)
            raise UpError(
                f"The local Jarvis server exited with code {process.returncode} at start-up. "
                f"Its log ({log_path}) ends with:\n{_tail(log_path)}"
            )
        if deadline is not None and time.monotonic() > deadline:
            server.stop()
            raise UpError(
                f"The local Jarvis server did not answer at {url} within "
                f"{SERVER_START_SECONDS:.0f} s ({problem}); see {log_path}."
            )
        time.sleep(0.05)
    say(f"Server: started a local Jarvis server at {url} (log: {log_path})")
    return server


def device_name() -> str:
    return (socket.gethostname().split(".")[0] or "this-computer")[:128]


def _check_token(url: str, token: str, key: bytes | None) -> None:
    with ServerClient(url, identity_key=key) as server:
        server.check_token(token)


def ensure_token(url: str, say: Callable[[str], None] = print, *, key: bytes | None = None) -> bool:
    """A token the server at `url` accepts, in the keyring; True if a new one was created."""
    stored = credentials.load_token()
    if stored is not None:
        try:
            _check_token(url, stored, key)
        except TokenRefusedError:
            say("Token: the server refused the stored token; creating a new one")
        except ServerError as exc:
            raise UpError(f"Cannot check the stored device token: {exc}.") from None
        else:
            say("Token: the device token in the keyring is valid; reusing it")
            return False
    name = device_name()
    # The server's command line takes a second or two to start: say what is going on.
    say(f"Token: creating a device token for {name!r}")
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
    try:
        _check_token(url, token, key)
    except TokenRefusedError:
        # The server answering there keeps its tokens elsewhere (another JARVIS_HOME or database).
        raise UpError(
            f"The server at {url} does not accept a token created from this computer's server "
            "data: it was started with another data directory or database. Stop that server, "
            "or run `jarvis up --port N` to start a local one on another port."
        ) from None
    except ServerError as exc:
        raise UpError(f"Cannot check the new device token: {exc}.") from None
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


def check_keyring() -> None:
    """UpError in plain words when there is no keyring to keep the device token in."""
    try:
        credentials.load_token()
    except KeyringUnavailableError:
        raise UpError(
            "No keyring is working on this computer, so nothing was started: Jarvis keeps its "
            "device token and the key of its outbox there. Start and unlock your desktop's "
            "keyring (GNOME Keyring, KWallet, or KeePassXC with Secret Service) and run "
            "`jarvis up` again."
        ) from None


def refuse_if_running() -> None:
    """UpError with one hint when a Jarvis agent (a tray app) of this user runs already."""
    from jarvis_agent.runtime.instance_lock import AgentLock, AlreadyRunningError, read_lock_pid

    path = agent_paths().lock_file
    lock = AgentLock(path)
    try:
        lock.acquire()
    except AlreadyRunningError:
        pid = read_lock_pid(path)
        raise UpError(already_running(pid)) from None
    lock.release()


def already_running(pid: int | None) -> str:
    """The one message for a second start: what runs, and the one thing to do about it."""
    who = f" (pid {pid})" if pid else ""
    return (
        f"Jarvis is already running{who}; its tray icon is up. To restart it, quit it from the "
        "tray menu first."
    )


def _import_tray() -> None:
    import jarvis_ui.app  # noqa: F401


def up(port: int = DEFAULT_PORT, say: Callable[[str], None] = print) -> int:
    """Everything `jarvis up` does; returns the tray app's exit code."""
    from jarvis_ui.startup import NoDisplayError, display_problem

    # Each check before starting anything that would need stopping again.
    problem = display_problem()
    if problem is not None:
        raise NoDisplayError(problem)
    check_keyring()
    refuse_if_running()
    key = identity_key()
    # The tray's imports (Qt, the agent: about a second) while a new server starts.
    server = ensure_server(port, say, key=key, meanwhile=_import_tray)
    try:
        ensure_token(server.url, say, key=key)
        point_agent_at(server.url, say)
        say("Tray: starting Jarvis (quit it from the tray menu)")
        from jarvis_ui.app import run_tray

        return run_tray()
    finally:
        if server.started_here:
            say("Server: stopping the local Jarvis server")
            server.stop()
