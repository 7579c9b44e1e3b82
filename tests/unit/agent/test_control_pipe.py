"""The keyed control channel that Windows serves on a named pipe, run for real over AF_UNIX.

PipeServer/PipeClient are the Windows transport; on Linux the very same code runs with family
AF_UNIX (only the address differs), so these tests exercise its handshake, framing, timeouts and
shutdown against a real listener. Nothing of Windows is faked.
"""

from __future__ import annotations

import logging
import pickle
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client, Connection
from pathlib import Path

import pytest

from jarvis_agent.control import (
    AgentNotRunningError,
    ControlError,
    ControlReply,
    ControlRequest,
)
from jarvis_agent.control.key import load_or_create_key
from jarvis_agent.control.pipe import PipeClient, PipeServer, pipe_address
from jarvis_agent.control.protocol import MAX_MESSAGE


@dataclass(frozen=True)
class Channel:
    address: str
    key_file: Path

    def client(self, *, timeout: float = 10.0, key_file: Path | None = None) -> PipeClient:
        return PipeClient(
            self.address, key_file=key_file or self.key_file, family="AF_UNIX", timeout=timeout
        )


Serve = Callable[[Callable[[ControlRequest], ControlReply]], PipeServer]


@pytest.fixture
def channel(jarvis_home: Path) -> Iterator[Channel]:
    # A short directory of its own: pytest's tmp_path can overflow sun_path (108 bytes).
    short = Path(tempfile.mkdtemp(prefix="jarvis-pipe-"))
    yield Channel(address=str(short / "control"), key_file=jarvis_home / "data" / "control.key")
    shutil.rmtree(short, ignore_errors=True)


@pytest.fixture
def serve(channel: Channel) -> Iterator[Serve]:
    servers: list[PipeServer] = []

    def start(handler: Callable[[ControlRequest], ControlReply]) -> PipeServer:
        server = PipeServer(channel.address, handler, key_file=channel.key_file, family="AF_UNIX")
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _echo(request: ControlRequest) -> ControlReply:
    until = request.until.isoformat() if request.until else ""
    return ControlReply(ok=True, message=f"{request.command} {until}".strip(), status={"n": 1})


def test_requests_are_answered(channel: Channel, serve: Serve) -> None:
    """Each request reaches the handler with its arguments, and its reply comes back whole."""
    seen: list[ControlRequest] = []

    def handler(request: ControlRequest) -> ControlReply:
        seen.append(request)
        return _echo(request)

    serve(handler)
    until = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    client = channel.client()
    reply = client.request("pause", until=until)
    assert reply == ControlReply(ok=True, message=f"pause {until.isoformat()}", status={"n": 1})
    assert client.request("status").message == "status"
    assert [(r.command, r.until) for r in seen] == [("pause", until), ("status", None)]


def test_the_key_is_private_random_and_kept_across_restarts(
    channel: Channel, serve: Serve, tmp_path: Path
) -> None:
    """The agent makes a user-only key file once, keeps it on restart; another home gets another."""
    server = serve(_echo)
    first = channel.key_file.read_text()
    assert channel.key_file.stat().st_mode & 0o777 == 0o600
    assert len(bytes.fromhex(first.strip())) == 32
    server.stop()
    serve(_echo)
    assert channel.key_file.read_text() == first
    assert channel.client().request("ping").ok
    other = load_or_create_key(tmp_path / "other-home" / "control.key")
    assert other.hex() != first.strip()
    assert [p.name for p in channel.key_file.parent.iterdir()] == ["control.key"]


def test_a_client_without_the_key_is_refused(
    channel: Channel, serve: Serve, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A peer with another key never reaches the handler; the error says what to do, no secret."""
    calls: list[ControlRequest] = []

    def handler(request: ControlRequest) -> ControlReply:
        calls.append(request)
        return _echo(request)

    serve(handler)
    stranger_key = tmp_path / "stranger" / "control.key"
    stranger = load_or_create_key(stranger_key)
    caplog.set_level(logging.WARNING, logger="jarvis.control")

    with pytest.raises(ControlError, match="do not share the control key") as caught:
        channel.client(key_file=stranger_key).request("pause")
    with pytest.raises(AuthenticationError):
        Client(channel.address, family="AF_UNIX", authkey=b"guess" * 8)

    real = channel.key_file.read_text().strip()
    assert "restart the agent" in str(caught.value)
    for secret in (real, stranger.hex()):
        assert secret not in str(caught.value)
        assert secret not in caplog.text
    assert "does not hold the control key" in caplog.text
    assert calls == []
    assert channel.client().request("status").ok


def test_nothing_listening_means_not_running(channel: Channel) -> None:
    """With no agent, the client says it is not running and how to start it."""
    with pytest.raises(AgentNotRunningError, match=r"not running.*jarvis run --headless"):
        channel.client().request("status")


def test_stop_frees_the_channel(channel: Channel, serve: Serve) -> None:
    """After stop() clients hear 'not running', and a new agent can listen on the same address."""
    server = serve(_echo)
    assert channel.client().request("ping").ok
    server.stop()
    with pytest.raises(AgentNotRunningError):
        channel.client().request("ping")
    serve(lambda r: ControlReply(ok=True, message="second agent"))
    assert channel.client().request("ping").message == "second agent"


def test_stop_hangs_up_on_connected_clients(channel: Channel, serve: Serve) -> None:
    """stop() returns only after idle connections are closed (on Windows they keep the pipe)."""
    server = serve(_echo)
    key = load_or_create_key(channel.key_file)
    with Client(channel.address, family="AF_UNIX", authkey=key) as idle:
        server.stop()
        assert idle.poll(0), "the connection is still open after stop()"
        with pytest.raises(EOFError):
            idle.recv_bytes()


def test_a_second_agent_finds_the_channel_busy(channel: Channel, serve: Serve) -> None:
    """A second listener on the same address is refused with a clear error; the first carries on."""
    serve(_echo)
    second = PipeServer(channel.address, _echo, key_file=channel.key_file, family="AF_UNIX")
    with pytest.raises(ControlError, match="already in use by another process"):
        second.start()
    assert channel.client().request("status").ok


def test_malformed_requests_get_an_error_reply(
    channel: Channel, serve: Serve, tmp_path: Path
) -> None:
    """Unknown commands, non-JSON and pickles are answered with what was wrong; nothing is run."""
    serve(_echo)
    key = load_or_create_key(channel.key_file)
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Touch(str(marker)))
    with Client(channel.address, family="AF_UNIX", authkey=key) as conn:
        replies = []
        for raw in (b'{"command": "explode"}', b"not json", payload):
            conn.send_bytes(raw)
            replies.append(ControlReply.from_json(conn.recv_bytes()))
        conn.send_bytes(b'{"command": "ping"}')
        after = ControlReply.from_json(conn.recv_bytes())
    assert [r.ok for r in replies] == [False, False, False]
    assert all(r.message.startswith("bad request") for r in replies)
    assert "command" in replies[0].message
    assert not marker.exists()
    assert after.ok


class _Touch:
    """Unpickling this creates a file: proof that a pickle was (or was not) loaded."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.path, "w"))


def _send_and_receive(conn: Connection, data: bytes) -> bytes:
    conn.send_bytes(data)
    return conn.recv_bytes()


def test_an_oversized_request_closes_only_that_connection(channel: Channel, serve: Serve) -> None:
    """A request over the size cap drops that connection; the agent keeps answering others."""
    serve(_echo)
    key = load_or_create_key(channel.key_file)
    # Dropped with the request unread: EOF, or a reset/broken pipe for the unread bytes.
    with (
        Client(channel.address, family="AF_UNIX", authkey=key) as conn,
        pytest.raises((EOFError, ConnectionResetError, BrokenPipeError)),
    ):
        _send_and_receive(conn, b" " * (MAX_MESSAGE + 1))
    assert channel.client().request("status").ok


def test_a_failing_command_is_reported(channel: Channel, serve: Serve) -> None:
    """A handler error comes back as a failed reply naming the command and the cause."""

    def handler(request: ControlRequest) -> ControlReply:
        raise RuntimeError("disk full")

    serve(handler)
    reply = channel.client().request("capture-now")
    assert not reply.ok
    assert reply.message == "capture-now failed: disk full"


def test_concurrent_clients_each_get_their_own_answer(channel: Channel, serve: Serve) -> None:
    """Eight commands in flight at once are all served, each answered with its own reply."""
    together = threading.Barrier(8, timeout=30)

    def handler(request: ControlRequest) -> ControlReply:
        together.wait()  # breaks (and the reply says so) unless all eight are being served at once
        return _echo(request)

    serve(handler)
    base = datetime(2030, 1, 1, tzinfo=UTC)
    untils = [base + timedelta(hours=i) for i in range(8)]
    replies: dict[int, ControlReply] = {}

    def ask(i: int) -> None:
        replies[i] = channel.client(timeout=60).request("pause", until=untils[i])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {i: r.message for i, r in replies.items()} == {
        i: f"pause {u.isoformat()}" for i, u in enumerate(untils)
    }


def test_a_silent_peer_does_not_hold_up_others(channel: Channel, serve: Serve) -> None:
    """A connection that never answers the challenge does not block the next client."""
    serve(_echo)
    with Client(channel.address, family="AF_UNIX") as silent:
        assert channel.client().request("status").ok
        # The server did challenge the silent peer; it just never answered.
        assert silent.recv_bytes().startswith(b"#CHALLENGE#")


def test_an_agent_that_does_not_answer_times_out(channel: Channel, serve: Serve) -> None:
    """A command the agent takes too long over fails with a timeout message, not a hang."""
    release = threading.Event()

    def handler(request: ControlRequest) -> ControlReply:
        release.wait()
        return _echo(request)

    serve(handler)
    try:
        with pytest.raises(ControlError, match=r"did not answer `capture-now` within 0.5 s"):
            channel.client(timeout=0.5).request("capture-now")
    finally:
        release.set()
    assert channel.client().request("status").ok


def test_a_hung_listener_times_out_in_the_handshake(channel: Channel) -> None:
    """Something that accepts connections but never speaks gets a timeout, not a hang."""
    load_or_create_key(channel.key_file)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as hung:
        hung.bind(channel.address)
        hung.listen(4)  # connections queue in the backlog; nobody ever accepts them
        with pytest.raises(ControlError, match="did not answer `status`"):
            channel.client(timeout=0.3).request("status")


def test_a_missing_key_file_is_explained(channel: Channel, serve: Serve) -> None:
    """A client whose key file is gone while something listens is told to restart the agent."""
    serve(_echo)
    channel.key_file.unlink()
    with pytest.raises(ControlError, match=r"control key .*control\.key is missing; restart"):
        channel.client().request("status")


@pytest.mark.parametrize(
    ("content", "mode", "problem"),
    [
        ("not a key at all\n", 0o600, "does not hold a 32-byte hex key"),
        ("ab" * 16 + "\n", 0o600, "does not hold a 32-byte hex key"),
        ("ab" * 32 + "\n", 0o644, "can be read by other users"),
    ],
)
def test_an_unusable_key_file_stops_the_agent_with_a_clear_message(
    channel: Channel, content: str, mode: int, problem: str
) -> None:
    """A damaged or exposed key file is refused, naming the file and what to do, never echoed."""
    channel.key_file.parent.mkdir(parents=True)
    channel.key_file.write_text(content)
    channel.key_file.chmod(mode)
    server = PipeServer(channel.address, _echo, key_file=channel.key_file, family="AF_UNIX")
    with pytest.raises(ControlError) as caught:
        server.start()
    message = str(caught.value)
    assert problem in message
    assert str(channel.key_file) in message
    assert "delete it and restart the agent" in message
    assert content.strip() not in message


def test_pipe_names_are_per_user_and_per_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    r"""Each user and each JARVIS_HOME gets its own valid pipe name (\\.\pipe\ + no backslash)."""
    for var in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LOGNAME", "alice")
    home_a = tmp_path / "a" / "data" / "control.key"
    home_b = tmp_path / "b" / "data" / "control.key"
    alice_a, alice_b = pipe_address(home_a), pipe_address(home_b)
    monkeypatch.setenv("LOGNAME", "bob")
    bob_a = pipe_address(home_a)
    assert len({alice_a, alice_b, bob_a}) == 3
    monkeypatch.setenv("LOGNAME", "alice")
    assert pipe_address(home_a) == alice_a
    for name in (alice_a, alice_b, bob_a):
        prefix = "\\\\.\\pipe\\"
        assert name.startswith(prefix)
        assert "\\" not in name[len(prefix) :]
        assert len(name) <= 256
        assert "alice" not in name
        assert str(tmp_path) not in name
