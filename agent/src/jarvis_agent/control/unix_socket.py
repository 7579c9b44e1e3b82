"""The POSIX transport: a Unix domain socket, 0600 in a 0700 directory (only this user connects).

One JSON object per line each way: a `ControlRequest`, then a `ControlReply`. One connection may
carry several requests. The file permissions are the access check, so no key is needed here.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import socketserver
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from jarvis_agent.control.protocol import (
    MAX_MESSAGE,
    AgentNotRunningError,
    Command,
    ControlError,
    ControlReply,
    encode_request,
)

if TYPE_CHECKING:
    from jarvis_agent.control.request import Handler

__all__ = ["SocketClient", "SocketServer", "short_socket_path"]

# sun_path holds 108 bytes on Linux, 104 on macOS; deep JARVIS_HOME paths (tests) exceed that.
_MAX_SOCKET_PATH = 100


def short_socket_path(path: Path) -> Path:
    """`path`, or a short private path in the temp dir if `path` is too long for a socket."""
    if len(os.fsencode(path)) <= _MAX_SOCKET_PATH:
        return path
    digest = hashlib.sha256(os.fsencode(path)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"jarvis-{os.getuid()}-{digest}" / "agent.sock"


class _Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    answer_fn: Callable[[bytes], ControlReply]


class _Connection(socketserver.StreamRequestHandler):
    server: _Server
    timeout = 30.0

    def handle(self) -> None:
        while True:
            try:
                line = self.rfile.readline(MAX_MESSAGE + 1)
            except (OSError, TimeoutError):
                return
            if not line:
                return
            reply = self.server.answer_fn(line)
            try:
                self.wfile.write(reply.to_json() + b"\n")
                self.wfile.flush()
            except OSError:
                return


class SocketServer:
    """Serves control requests on a Unix socket, on a thread, until `stop()`."""

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
        # Imported here, on the agent's side only: the client in this module needs no pydantic.
        from jarvis_agent.control.request import answer

        handler = self._handler
        server.answer_fn = lambda raw: answer(raw, handler)
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
            # The short fallback directory (see short_socket_path) is ours alone; leave no litter.
            with contextlib.suppress(OSError):
                self.path.parent.rmdir()


class SocketClient:
    """Sends requests to the agent listening on a Unix socket, one connection per request."""

    def __init__(self, path: Path, *, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout

    def request(self, command: Command, *, until: datetime | None = None) -> ControlReply:
        request = encode_request(command, until)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            try:
                sock.connect(str(self.path))
            except (FileNotFoundError, ConnectionRefusedError) as exc:
                raise AgentNotRunningError(f"control socket {self.path}") from exc
            except PermissionError as exc:
                raise ControlError(
                    f"not allowed to reach the agent's control socket {self.path}: it belongs "
                    "to another user"
                ) from exc
            sock.sendall(request + b"\n")
            with sock.makefile("rb") as stream:
                line = stream.readline(MAX_MESSAGE + 1)
        except TimeoutError as exc:
            raise ControlError(
                f"the agent did not answer `{command}` within {self.timeout:.0f} s; see its log"
            ) from exc
        finally:
            sock.close()
        if not line:
            raise ControlError(f"the agent closed the connection without answering `{command}`")
        try:
            return ControlReply.from_json(line)
        except ValueError as exc:
            raise ControlError(f"the agent's answer to `{command}` was not understood") from exc
