"""The control channel: how `jarvis status`, `pause`, `resume`... reach the running agent.

Callers say `ControlServer(socket_path(paths), handler)` and `ControlClient(socket_path(paths))`
on every platform; the transport underneath is chosen here:

- POSIX: a Unix domain socket, 0600 in a 0700 directory (unix_socket.py); `socket_path` is the
  socket.
- Windows: a named pipe, per user and per JARVIS_HOME, on which both ends prove they hold a random
  key kept in a user-only file in the data directory (pipe.py, key.py); `socket_path` is that key
  file, and the pipe's name is derived from it.

Either way a request is one JSON `ControlRequest` and the answer one JSON `ControlReply`
(protocol.py). Only one agent runs per user (the lock file decides); a second one that got past it
would find the channel in use.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

from jarvis_agent.control.protocol import (
    AgentNotRunningError,
    Command,
    ControlError,
    ControlReply,
)
from jarvis_agent.paths import AgentPaths

if TYPE_CHECKING:
    from jarvis_agent.control.request import ControlRequest, Handler

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

# A plain flag rather than `sys.platform == ...` in each branch, so mypy checks both branches
# whatever platform it runs on.
_WINDOWS: Final[bool] = sys.platform == "win32"
_KEY_FILE = "control.key"


def __getattr__(name: str) -> object:
    # The request model is the agent's (pydantic); clients such as `jarvis status` never load it.
    if name == "ControlRequest":
        from jarvis_agent.control.request import ControlRequest

        return ControlRequest
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _ServerTransport(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


class _ClientTransport(Protocol):
    def request(self, command: Command, *, until: datetime | None = None) -> ControlReply: ...


def socket_path(paths: AgentPaths) -> Path:
    """Where the agent's control channel is: its Unix socket, or on Windows its key file."""
    if _WINDOWS:
        return paths.data_dir / _KEY_FILE
    # Imported here: socketserver has no Unix servers on Windows.
    from jarvis_agent.control.unix_socket import short_socket_path

    return short_socket_path(paths.control_socket)


class ControlServer:
    """Serves control requests on a thread until `stop()`."""

    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self._transport: _ServerTransport
        if _WINDOWS:
            # Imported here, like the Unix transport: the pipe's imports (multiprocessing,
            # hashlib) would cost every `jarvis status` on POSIX for nothing.
            from jarvis_agent.control.pipe import PipeServer, pipe_address

            self._transport = PipeServer(pipe_address(path), handler, key_file=path)
        else:
            from jarvis_agent.control.unix_socket import SocketServer

            self._transport = SocketServer(path, handler)

    def start(self) -> None:
        self._transport.start()

    def stop(self) -> None:
        self._transport.stop()


class ControlClient:
    """Sends requests to the running agent."""

    def __init__(self, path: Path, *, timeout: float = 30.0) -> None:
        self.path = path
        self.timeout = timeout
        self._transport: _ClientTransport
        if _WINDOWS:
            from jarvis_agent.control.pipe import PipeClient, pipe_address

            self._transport = PipeClient(pipe_address(path), key_file=path, timeout=timeout)
        else:
            from jarvis_agent.control.unix_socket import SocketClient

            self._transport = SocketClient(path, timeout=timeout)

    def request(self, command: Command, *, until: datetime | None = None) -> ControlReply:
        return self._transport.request(command, until=until)
