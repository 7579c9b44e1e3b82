"""The control socket: how `jarvis status`, `pause`, `resume`... reach the running agent.

A Unix domain socket in the runtime directory (the directory 0700, the socket 0600: only this user
may talk to their agent). The protocol is one JSON object per line each way (pydantic models):
a `ControlRequest`, then a `ControlReply`. One connection may carry several requests.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import socket
import socketserver
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from jarvis_agent.paths import AgentPaths

__all__ = [
    "AgentNotRunningError",
    "Command",
    "ControlClient",
    "ControlError",
    "ControlReply",
    "ControlRequest",
    "ControlServer",
    "socket_path",
]

log = logging.getLogger("jarvis.control")

Command = Literal["ping", "status", "pause", "resume", "capture-now", "sync-now", "reload-config"]
_MAX_LINE = 64 * 1024
# sun_path holds 108 bytes on Linux, 104 on macOS; deep JARVIS_HOME paths (tests) exceed that.
_MAX_SOCKET_PATH = 100


class ControlError(RuntimeError):
    """The agent could not be asked, or said no; the message says what to do."""


class AgentNotRunningError(ControlError):
    """No agent is listening on the control socket."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            "the Jarvis agent is not running (nothing listens on its control socket "
            f"{path}); start it with `jarvis run --headless` or the tray app (`jarvis up`)"
        )


class ControlRequest(BaseModel):
    """One request to the agent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: Command
    # For `pause`: when the pause ends; None pauses until `resume`.
    until: AwareDatetime | None = None


class ControlReply(BaseModel):
    """The agent's answer: ok, a message for the user, and the status after the command."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ok: bool
    message: str = ""
    status: dict[str, Any] | None = None


def socket_path(paths: AgentPaths) -> Path:
    """Where the agent listens: the runtime dir, or a short private dir if that path is too long."""
    path = paths.control_socket
    if len(os.fsencode(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(os.fsencode(path)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"jarvis-{os.getuid()}-{digest}" / "agent.sock"


Handler = Callable[[ControlRequest], ControlReply]


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    handle_request_fn: Handler


class _Connection(socketserver.StreamRequestHandler):
    server: _Server
    timeout = 30.0

    def handle(self) -> None:
        while True:
            try:
                line = self.rfile.readline(_MAX_LINE + 1)
            except (OSError, TimeoutError):
                return
            if not line:
                return
            reply = self._answer(line)
            try:
                self.wfile.write(reply.model_dump_json().encode() + b"\n")
                self.wfile.flush()
            except OSError:
                return

    def _answer(self, line: bytes) -> ControlReply:
        if len(line) > _MAX_LINE:
            return ControlReply(ok=False, message="request too long")
        try:
            request = ControlRequest.model_validate_json(line)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}"
                for e in exc.errors()
            )
            return ControlReply(ok=False, message=f"bad request: {problems}")
        try:
            return self.server.handle_request_fn(request)
        except Exception as exc:
            log.exception("control command %s failed", request.command)
            return ControlReply(ok=False, message=f"{request.command} failed: {exc}")


class ControlServer:
    """Serves control requests on a thread until `stop()`."""

    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self._handler = handler
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if self.path.parent.stat().st_uid != os.getuid():
            # Someone else made the directory (the /tmp fallback): never talk through it.
            raise ControlError(
                f"{self.path.parent} belongs to another user; remove it, or set JARVIS_HOME to a "
                "shorter path"
            )
        os.chmod(self.path.parent, 0o700)
        # Only one agent runs (the lock), so a socket file left here is from a dead agent.
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        old_umask = os.umask(0o177)
        try:
            server = _Server(str(self.path), _Connection, bind_and_activate=True)
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)
        server.handle_request_fn = self._handler
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.5}, name="jarvis-control"
        )
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        if self.path.parent.parent == Path(tempfile.gettempdir()):
            # The short fallback directory (see socket_path) is ours alone; leave no litter.
            with contextlib.suppress(OSError):
                self.path.parent.rmdir()


class ControlClient:
    """Sends requests to the running agent."""

    def __init__(self, path: Path, *, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout

    def request(self, command: Command, *, until: datetime | None = None) -> ControlReply:
        request = ControlRequest(command=command, until=until)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            try:
                sock.connect(str(self.path))
            except (FileNotFoundError, ConnectionRefusedError) as exc:
                raise AgentNotRunningError(self.path) from exc
            except PermissionError as exc:
                raise ControlError(
                    f"not allowed to reach the agent's control socket {self.path}: it belongs "
                    "to another user"
                ) from exc
            sock.sendall(request.model_dump_json().encode() + b"\n")
            with sock.makefile("rb") as stream:
                line = stream.readline(_MAX_LINE + 1)
        except TimeoutError as exc:
            raise ControlError(
                f"the agent did not answer `{command}` within {self.timeout:.0f} s; see its log"
            ) from exc
        finally:
            sock.close()
        if not line:
            raise ControlError(f"the agent closed the connection without answering `{command}`")
        try:
            return ControlReply.model_validate_json(line)
        except ValidationError as exc:
            raise ControlError(f"the agent's answer to `{command}` was not understood") from exc
