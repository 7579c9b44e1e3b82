"""The control channel as callers use it here (POSIX: the Unix socket): permissions, requests and
replies, and 'not running'. The Windows transport has its own tests (test_control_pipe.py)."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest

from jarvis_agent.control import (
    AgentNotRunningError,
    ControlClient,
    ControlReply,
    ControlRequest,
    ControlServer,
    socket_path,
)
from jarvis_agent.paths import agent_paths


def test_requests_reach_the_handler_and_the_socket_is_private(tmp_path: Path) -> None:
    """Only the user can connect (0600 in a 0700 dir); each request gets its reply."""
    path = socket_path(agent_paths())
    seen: list[ControlRequest] = []

    def handler(request: ControlRequest) -> ControlReply:
        seen.append(request)
        return ControlReply(ok=True, message=f"did {request.command}", status={"state": "paused"})

    server = ControlServer(path, handler)
    server.start()
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        reply = ControlClient(path).request("pause")
        assert reply.ok
        assert reply.message == "did pause"
        assert reply.status == {"state": "paused"}
        assert [r.command for r in seen] == ["pause"]
    finally:
        server.stop()
    assert not path.exists()


def test_garbage_gets_a_clear_refusal() -> None:
    """A malformed request is answered with what was wrong, and the agent carries on."""
    path = socket_path(agent_paths())
    server = ControlServer(path, lambda r: ControlReply(ok=True))
    server.start()
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(path))
            sock.sendall(b'{"command": "explode"}\n')
            reply = ControlReply.from_json(sock.makefile("rb").readline())
        assert not reply.ok
        assert "bad request" in reply.message
        assert "command" in reply.message
        assert ControlClient(path).request("status").ok
    finally:
        server.stop()


def test_not_running_says_how_to_start() -> None:
    """With no agent, the client error says it is not running and how to start it."""
    with pytest.raises(AgentNotRunningError, match=r"not running.*jarvis run --headless"):
        ControlClient(socket_path(agent_paths())).request("status")


def test_long_paths_fall_back_to_a_short_private_socket(tmp_path: Path, monkeypatch) -> None:
    """A JARVIS_HOME deep enough to overflow sun_path still gets a working socket."""
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    monkeypatch.setenv("JARVIS_HOME", str(deep))
    path = socket_path(agent_paths())
    assert len(str(path)) < 100
    server = ControlServer(path, lambda r: ControlReply(ok=True, message="pong"))
    server.start()
    try:
        assert ControlClient(socket_path(agent_paths())).request("ping").message == "pong"
    finally:
        server.stop()
