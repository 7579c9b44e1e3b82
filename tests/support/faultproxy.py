"""A fault-injecting HTTP/1.1 proxy on loopback, between the uploader and the real server.

Each request that arrives takes the next planned fault (FIFO); with no fault planned it is
relayed unchanged. Faults act on real TCP connections:

    Respond(status, headers, body)  answer without forwarding (a 503 storm, a 429 with Retry-After)
    Delay(seconds)                  relay the server's reply only after `seconds` (slow server)
    ResetMidBody(after)             forward `after` bytes of the request, then reset both sides
    DropReply()                     forward the request, let the server answer, reset the client
                                    instead of relaying the answer (the reply is lost)
    CutReply(keep)                  relay only the first `keep` bytes of the answer, then reset

`refuse(True)` resets every new connection at once (the server looks down).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

_HEAD_END = b"\r\n\r\n"


@dataclass(frozen=True)
class Respond:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Delay:
    seconds: float


@dataclass(frozen=True)
class ResetMidBody:
    after: int = 1024


@dataclass(frozen=True)
class DropReply:
    pass


@dataclass(frozen=True)
class CutReply:
    keep: int = 40


Fault = Respond | Delay | ResetMidBody | DropReply | CutReply

_REASONS = {
    408: "Request Timeout",
    413: "Content Too Large",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def _reset(sock: socket.socket) -> None:
    """Close with RST instead of FIN, as a crashed peer or a middlebox would."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def head(self) -> bytes | None:
        while _HEAD_END not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buffer += chunk
        head, _, self.buffer = self.buffer.partition(_HEAD_END)
        return head + _HEAD_END

    def exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("peer closed mid-body")
            self.buffer += chunk
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
        if name.strip().lower() == b"transfer-encoding":
            raise ValueError("the fault proxy handles Content-Length bodies only")
    return 0


class FaultProxy:
    """See the module docstring. `requests` counts requests seen, `relayed` those forwarded."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)  # so close() is noticed: accept() ignores a closed socket
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._faults: deque[Fault] = deque()
        self._lock = threading.Lock()
        self._refusing = False
        self._closed = False
        self._sockets: set[socket.socket] = set()
        self.requests = 0
        self.relayed = 0
        self.request_times: list[float] = []
        self._thread = threading.Thread(target=self._accept, name="fault-proxy", daemon=True)
        self._thread.start()

    # control

    def plan(self, *faults: Fault) -> None:
        """Apply `faults` to the next requests, one each, in order."""
        with self._lock:
            self._faults.extend(faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def planned(self) -> int:
        with self._lock:
            return len(self._faults)

    def refuse(self, refusing: bool) -> None:
        """While True, every new connection is reset at once (and open ones are cut)."""
        with self._lock:
            self._refusing = refusing
            doomed = list(self._sockets) if refusing else []
        for sock in doomed:
            _reset(sock)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            doomed = list(self._sockets)
        for sock in doomed:
            _reset(sock)
        self._thread.join(5)

    # relaying

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _forget(self, *socks: socket.socket) -> None:
        with self._lock:
            for sock in socks:
                self._sockets.discard(sock)

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            with self._lock:
                refusing = self._refusing
            if refusing:
                _reset(client)
                continue
            self._track(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _next_fault(self) -> Fault | None:
        with self._lock:
            self.requests += 1
            self.request_times.append(time.monotonic())
            return self._faults.popleft() if self._faults else None

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            reader = _Reader(client)
            while True:
                head = reader.head()
                if head is None:
                    return
                length = _content_length(head)
                fault = self._next_fault()
                if isinstance(fault, Respond):
                    reader.exactly(length)
                    self._respond(client, fault)
                    return
                if upstream is None:
                    upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
                    self._track(upstream)
                if isinstance(fault, ResetMidBody):
                    upstream.sendall(head + reader.exactly(min(fault.after, length)))
                    time.sleep(0.05)  # let the server start reading before the reset
                    _reset(upstream)
                    _reset(client)
                    return
                upstream.sendall(head + reader.exactly(length))
                reply = self._read_reply(_Reader(upstream))
                if isinstance(fault, DropReply):
                    _reset(client)
                    return
                if isinstance(fault, CutReply):
                    client.sendall(reply[: fault.keep])
                    time.sleep(0.05)
                    _reset(client)
                    return
                if isinstance(fault, Delay):
                    time.sleep(fault.seconds)
                client.sendall(reply)
                with self._lock:
                    self.relayed += 1
        except (OSError, ConnectionError, ValueError):
            return
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.close()
                    self._forget(sock)

    @staticmethod
    def _read_reply(reader: _Reader) -> bytes:
        head = reader.head()
        if head is None:
            raise ConnectionError("server closed without a reply")
        return head + reader.exactly(_content_length(head))

    @staticmethod
    def _respond(client: socket.socket, fault: Respond) -> None:
        headers = {"Content-Length": str(len(fault.body)), "Connection": "close", **fault.headers}
        if fault.body and "Content-Type" not in headers:
            headers["Content-Type"] = "application/problem+json"
        lines = [f"HTTP/1.1 {fault.status} {_REASONS.get(fault.status, 'Error')}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        client.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + fault.body)


@pytest.fixture
def fault_proxy_factory() -> Iterator[type[FaultProxy]]:
    """`fault_proxy_factory(upstream_port)` -> FaultProxy; every proxy is closed after the test."""
    made: list[FaultProxy] = []

    class _Tracked(FaultProxy):
        def __init__(self, upstream_port: int) -> None:
            super().__init__(upstream_port)
            made.append(self)

    yield _Tracked
    for proxy in made:
        proxy.close()
