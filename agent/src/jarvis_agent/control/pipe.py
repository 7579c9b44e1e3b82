"""The Windows transport: a named pipe served with multiprocessing.connection, keyed per user.

Windows gives no dependable AF_UNIX path with file permissions, so the agent listens on a named
pipe whose name comes from the user and the agent's key file (`pipe_address`: one per user and per
JARVIS_HOME). A named pipe's default security descriptor grants "read access to members of the
Everyone group and the anonymous account" (CreateNamedPipe, lpSecurityAttributes; Python's
PipeListener passes NULL), so the pipe is no access check by itself: both ends prove they hold the
control key (key.py) with multiprocessing.connection's HMAC challenge before a request is read.
Requests and replies are JSON bytes (send_bytes/recv_bytes); never Connection.recv(), which
unpickles, i.e. runs whatever a peer sends (bpo-16920).

The same code serves family "AF_UNIX" on POSIX, where only the address differs; that is how it is
tested for real on Linux.

What this relies on in CPython's Lib/multiprocessing/connection.py (3.11 to 3.13):
- PipeListener makes its first instance with FILE_FLAG_FIRST_PIPE_INSTANCE: a second listener on
  the same name fails with ERROR_ACCESS_DENIED instead of sharing the pipe (a busy pipe), and since
  the default DACL gives other users no FILE_CREATE_PIPE_INSTANCE, they cannot add instances to
  ours. It keeps one unconnected instance queued, so clients connect between accepts.
- Listener.accept() runs the handshake inline with no timeout (cpython#76425): one peer that
  connects and stays silent wedges every later client (prpl-tidybot#89), and a read-only opener of
  a default-DACL pipe can do just that. So the Listener gets no authkey; each connection's own
  thread runs deliver_challenge/answer_challenge (Listener.accept's order) under a deadline.
- Client() has no timeout either: PipeClient retries WaitNamedPipe for 20 s while all instances
  are busy, and the handshake blocks in recv for ever (cpython#123736). So the connect runs on a
  helper thread bounded by the caller's timeout, and every receive first polls for the time left.
- With no pipe of that name, WaitNamedPipe fails at once with ERROR_FILE_NOT_FOUND
  (FileNotFoundError): the agent is not running.
"""

from __future__ import annotations

import errno
import getpass
import hashlib
import logging
import os
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Listener, answer_challenge, deliver_challenge
from pathlib import Path
from typing import Any, Final, Literal, Protocol, cast

from jarvis_agent.control.key import load_or_create_key, read_key
from jarvis_agent.control.protocol import (
    MAX_MESSAGE,
    AgentNotRunningError,
    Command,
    ControlError,
    ControlReply,
    encode_request,
)
from jarvis_agent.control.request import Handler, answer

__all__ = [
    "HANDSHAKE_TIMEOUT",
    "IDLE_TIMEOUT",
    "MAX_CONNECTIONS",
    "Family",
    "PipeClient",
    "PipeServer",
    "pipe_address",
]

log = logging.getLogger("jarvis.control")

Family = Literal["AF_PIPE", "AF_UNIX"]

# A peer that has not proved it holds the key within this long is dropped.
HANDSHAKE_TIMEOUT: Final = 10.0
# An authenticated client that sends nothing for this long is dropped (as the Unix socket does).
IDLE_TIMEOUT: Final = 30.0
# Connections served at once; more are closed at once, so a flood of openers costs no memory.
MAX_CONNECTIONS: Final = 32
# How often an idle connection looks at the stop flag.
_POLL_SLICE: Final = 0.2
_STOP_WAIT: Final = 5.0
_ERROR_PIPE_BUSY: Final = 231


class _Channel(Protocol):
    """What this module uses of a multiprocessing Connection (or PipeConnection)."""

    def send_bytes(self, buf: bytes) -> None: ...
    def recv_bytes(self, maxlength: int | None = None) -> bytes: ...
    def poll(self, timeout: float | None = 0.0) -> bool: ...
    def close(self) -> None: ...


def pipe_address(key_file: Path) -> str:
    r"""The pipe name (\\.\pipe\...) of the agent whose control key is `key_file`.

    One per user and per key file (so per JARVIS_HOME): side-by-side agents never meet. The name is
    a digest, so it reveals neither; it is no secret either (the key is what keeps others out).
    """
    try:
        user = getpass.getuser()
    except Exception:
        # No login name in the environment: the key file's path still tells homes apart.
        user = ""
    ident = f"{user}\0{os.path.normcase(os.path.abspath(key_file))}"
    digest = hashlib.sha256(ident.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return "\\\\.\\pipe\\jarvis-control-" + digest


def _endpoint(family: Family, address: str) -> str:
    return f"control pipe {address}" if family == "AF_PIPE" else f"control socket {address}"


class _Deadline:
    """A connection whose receives raise TimeoutError at a deadline instead of blocking for ever.

    multiprocessing's handshake functions only call send_bytes and recv_bytes on the connection
    they are given, so they run unchanged over this.
    """

    def __init__(self, conn: _Channel, deadline: float) -> None:
        self._conn = conn
        self._deadline = deadline

    def send_bytes(self, buf: bytes) -> None:
        self._conn.send_bytes(buf)

    def recv_bytes(self, maxlength: int | None = None) -> bytes:
        if not self._conn.poll(max(0.0, self._deadline - time.monotonic())):
            raise TimeoutError
        return self._conn.recv_bytes(maxlength)


def _connect(address: str, family: Family, timeout: float) -> _Channel:
    """Client(address, family) within `timeout` seconds, else TimeoutError."""
    future: Future[_Channel] = Future()

    def attempt() -> None:
        try:
            conn: _Channel = Client(address, family=family)
        except Exception as exc:
            if future.set_running_or_notify_cancel():
                future.set_exception(exc)
            return
        if future.set_running_or_notify_cancel():
            future.set_result(conn)
        else:
            conn.close()  # the caller gave up meanwhile

    # A daemon thread: a connect stuck past the caller's patience must not hold up its exit.
    threading.Thread(target=attempt, name="jarvis-control-connect", daemon=True).start()
    try:
        return future.result(timeout=timeout)
    except FutureTimeout:
        if future.cancel():
            raise TimeoutError from None
        return future.result()  # connected just now


def _is_busy(family: Family, exc: OSError) -> bool:
    if family == "AF_PIPE":
        # FILE_FLAG_FIRST_PIPE_INSTANCE on an existing name: ERROR_ACCESS_DENIED.
        return isinstance(exc, PermissionError) or getattr(exc, "winerror", 0) == _ERROR_PIPE_BUSY
    return exc.errno == errno.EADDRINUSE


class PipeServer:
    """Serves control requests on a named pipe (or AF_UNIX socket), on threads, until `stop()`.

    A pipe vanishes with its process; an AF_UNIX socket file left by a killed server keeps the
    address busy until removed (the POSIX agent uses unix_socket.py, which clears it).
    """

    def __init__(
        self, address: str, handler: Handler, *, key_file: Path, family: Family = "AF_PIPE"
    ) -> None:
        self.address = address
        self.key_file = key_file
        self.family: Family = family
        self._handler = handler
        self._key = b""
        self._listener: Listener | None = None
        self._accepting: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._workers: set[threading.Thread] = set()
        self._refusing = False

    @property
    def endpoint(self) -> str:
        """What the channel is, for messages: 'control pipe \\\\.\\pipe\\...'."""
        return _endpoint(self.family, self.address)

    def start(self) -> None:
        if self._listener is not None:
            return
        self._key = load_or_create_key(self.key_file)
        if self.family == "AF_UNIX":
            Path(self.address).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            listener = Listener(self.address, family=self.family, backlog=MAX_CONNECTIONS)
        except OSError as exc:
            if _is_busy(self.family, exc):
                raise ControlError(
                    f"the {self.endpoint} is already in use by another process (another Jarvis "
                    "agent?); stop it, then start this one again"
                ) from exc
            raise ControlError(f"cannot open the {self.endpoint}: {exc}") from exc
        self._stopping.clear()
        self._listener = listener
        self._accepting = threading.Thread(
            target=self._accept_loop, args=(listener,), name="jarvis-control", daemon=True
        )
        self._accepting.start()

    def stop(self) -> None:
        """Stop listening and end open connections; the address is free again afterwards."""
        listener, self._listener = self._listener, None
        if listener is None:
            return
        self._stopping.set()
        # accept() has no timeout and closing the listener does not wake it (on either family):
        # a connection of our own does, and the loop then sees the stop flag.
        try:
            _connect(self.address, self.family, timeout=_STOP_WAIT).close()
        except (OSError, TimeoutError):
            log.warning("control channel: could not wake its listener to stop it")
        deadline = time.monotonic() + _STOP_WAIT
        if self._accepting is not None:
            self._accepting.join(timeout=_STOP_WAIT)
        listener.close()
        with self._lock:
            workers = list(self._workers)
        # Idle connections notice the flag within a poll slice; one in a command finishes it.
        for worker in workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))

    def _accept_loop(self, listener: Listener) -> None:
        while not self._stopping.is_set():
            try:
                conn: _Channel = listener.accept()
            except OSError:
                if self._stopping.is_set():
                    return
                log.warning("control channel: accepting a connection failed", exc_info=True)
                self._stopping.wait(0.5)  # a lasting fault must not spin
                continue
            if self._stopping.is_set():
                conn.close()
                return
            self._dispatch(conn)

    def _dispatch(self, conn: _Channel) -> None:
        with self._lock:
            self._workers = {w for w in self._workers if w.is_alive()}
            full = len(self._workers) >= MAX_CONNECTIONS
            if not full:
                worker = threading.Thread(
                    target=self._serve, args=(conn,), name="jarvis-control-conn", daemon=True
                )
                self._workers.add(worker)
                worker.start()
        if full:
            conn.close()
            if not self._refusing:
                log.warning(
                    "control channel: %d connections already open; refusing more until one ends",
                    MAX_CONNECTIONS,
                )
        self._refusing = full

    def _serve(self, conn: _Channel) -> None:
        try:
            if self._authenticate(conn):
                self._answer_requests(conn)
        finally:
            conn.close()

    def _authenticate(self, conn: _Channel) -> bool:
        timed = cast(Any, _Deadline(conn, time.monotonic() + HANDSHAKE_TIMEOUT))
        try:
            deliver_challenge(timed, self._key)
            answer_challenge(timed, self._key)
        except AuthenticationError:
            log.warning("control channel: refused a connection that does not hold the control key")
            return False
        except (TimeoutError, EOFError, OSError, AssertionError):
            # Gone, silent, or not speaking the protocol: nothing a user needs to hear about.
            return False
        return True

    def _answer_requests(self, conn: _Channel) -> None:
        while True:
            if not self._wait_for_request(conn):
                return
            try:
                raw = conn.recv_bytes(MAX_MESSAGE)
            except EOFError:
                return
            except OSError:
                # Over MAX_MESSAGE: the rest of it is unread, so the connection is unusable.
                log.warning("control channel: closed a connection that sent an oversized request")
                return
            reply = answer(raw, self._handler)
            try:
                conn.send_bytes(reply.to_json())
            except OSError:
                return

    def _wait_for_request(self, conn: _Channel) -> bool:
        """True once something arrived; False when idle too long, stopping, or the peer left."""
        idle_until = time.monotonic() + IDLE_TIMEOUT
        try:
            while not conn.poll(_POLL_SLICE):
                if self._stopping.is_set() or time.monotonic() >= idle_until:
                    return False
        except (OSError, EOFError):
            # A PipeConnection's poll raises BrokenPipeError once the client has gone
            # (PeekNamedPipe); a socket's reports EOF as readable instead.
            return False
        return True


class PipeClient:
    """Sends requests to the agent on a named pipe (or AF_UNIX socket), one connection each."""

    def __init__(
        self,
        address: str,
        *,
        key_file: Path,
        family: Family = "AF_PIPE",
        timeout: float = 30.0,
    ) -> None:
        self.address = address
        self.key_file = key_file
        self.family: Family = family
        self.timeout = timeout

    @property
    def endpoint(self) -> str:
        return _endpoint(self.family, self.address)

    def request(self, command: Command, *, until: datetime | None = None) -> ControlReply:
        request = encode_request(command, until)
        deadline = time.monotonic() + self.timeout
        try:
            conn = _connect(self.address, self.family, self.timeout)
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            raise AgentNotRunningError(self.endpoint) from exc
        except PermissionError as exc:
            raise ControlError(
                f"not allowed to open the {self.endpoint}: it belongs to another user"
            ) from exc
        except TimeoutError as exc:
            raise self._late(command) from exc
        except OSError as exc:
            raise ControlError(f"cannot reach the agent on its {self.endpoint}: {exc}") from exc
        try:
            raw = self._exchange(conn, command, request, deadline)
        finally:
            conn.close()
        try:
            return ControlReply.from_json(raw)
        except ValueError as exc:
            raise ControlError(f"the agent's answer to `{command}` was not understood") from exc

    def _exchange(self, conn: _Channel, command: Command, request: bytes, deadline: float) -> bytes:
        try:
            key = read_key(self.key_file)
        except FileNotFoundError as exc:
            raise ControlError(
                f"something listens on the {self.endpoint}, but the control key {self.key_file} "
                "is missing; restart the agent"
            ) from exc
        timed = _Deadline(conn, deadline)
        try:
            # Client()'s order: answer the server's challenge, then challenge it.
            answer_challenge(cast(Any, timed), key)
            deliver_challenge(cast(Any, timed), key)
            timed.send_bytes(request)
            return timed.recv_bytes(MAX_MESSAGE)
        except AuthenticationError as exc:
            raise ControlError(
                f"the agent on the {self.endpoint} and this command do not share the control key "
                f"in {self.key_file} (was it replaced while the agent ran?); restart the agent"
            ) from exc
        except AssertionError as exc:
            raise ControlError(
                f"whatever listens on the {self.endpoint} is not a Jarvis agent; stop it and "
                "start the agent"
            ) from exc
        except TimeoutError as exc:
            raise self._late(command) from exc
        except (EOFError, OSError) as exc:
            raise ControlError(
                f"the agent closed the connection without answering `{command}`"
            ) from exc

    def _late(self, command: Command) -> ControlError:
        return ControlError(
            f"the agent did not answer `{command}` within {self.timeout:g} s; see its log"
        )
