"""sway's IPC over its Unix socket ($SWAYSOCK): requests and subscribed events, as JSON.

The i3/sway IPC framing is small (magic "i3-ipc", payload length and type as native 32-bit
integers, then JSON), so this speaks it directly rather than through i3ipc, whose last release
is from 2020 and which would bring python-xlib's X11 handling along for nothing.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
from typing import Any, Final

from jarvis_platform.errors import PlatformError

__all__ = [
    "EVENT_WINDOW",
    "EVENT_WORKSPACE",
    "GET_CONFIG",
    "GET_OUTPUTS",
    "GET_TREE",
    "SwayIPC",
]

_MAGIC: Final = b"i3-ipc"
_HEADER: Final = struct.Struct("=6sII")
RUN_COMMAND: Final = 0
SUBSCRIBE: Final = 2
GET_OUTPUTS: Final = 3
GET_TREE: Final = 4
GET_VERSION: Final = 7
GET_CONFIG: Final = 9
EVENT_WORKSPACE: Final = 0x80000000
EVENT_WINDOW: Final = 0x80000003


class SwayIPC:
    """One connection to sway's IPC socket; not thread-safe (one per thread or watch)."""

    def __init__(self, path: str, *, timeout: float | None = 10.0) -> None:
        self.path = path
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout)
        try:
            self._sock.connect(path)
        except OSError as exc:
            self._sock.close()
            raise PlatformError(
                f"cannot reach sway's IPC socket {path} ({exc}): is sway running, and is "
                "SWAYSOCK that of this session?"
            ) from exc

    def request(self, kind: int, payload: str = "") -> Any:
        """Send one request and return sway's JSON reply."""
        self._send(kind, payload)
        reply_kind, body = self.receive()
        if reply_kind != kind:
            raise PlatformError(f"sway answered IPC request {kind} with message {reply_kind}")
        return body

    def subscribe(self, events: list[str]) -> None:
        reply = self.request(SUBSCRIBE, json.dumps(events))
        if not isinstance(reply, dict) or not reply.get("success"):
            raise PlatformError(f"sway refused the subscription to {events}: {reply}")

    def receive(self) -> tuple[int, Any]:
        """The next message (a reply, or an event after `subscribe`); raises PlatformError when
        sway has gone away."""
        magic, length, kind = _HEADER.unpack(self._read(_HEADER.size))
        if magic != _MAGIC:
            raise PlatformError(f"{self.path} does not speak sway's IPC (got {magic!r})")
        return kind, json.loads(self._read(length))

    def _send(self, kind: int, payload: str) -> None:
        data = payload.encode()
        try:
            self._sock.sendall(_HEADER.pack(_MAGIC, len(data), kind) + data)
        except OSError as exc:
            raise PlatformError(f"lost sway's IPC connection ({exc})") from exc

    def _read(self, size: int) -> bytes:
        chunks: list[bytes] = []
        while size:
            try:
                chunk = self._sock.recv(size)
            except OSError as exc:
                raise PlatformError(f"lost sway's IPC connection ({exc})") from exc
            if not chunk:
                raise PlatformError("sway closed its IPC connection (did sway exit?)")
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def peer(self) -> tuple[int, int]:
        """sway's (pid, uid), from the socket's peer credentials."""
        creds = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, uid, _ = struct.unpack("3i", creds)
        return pid, uid

    def shutdown(self) -> None:
        """Wake a thread blocked in `receive` (it then raises); safe from any thread."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._sock.close()
