"""GET /api/v1/events: Server-Sent Events of newly stored captures."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator

from jarvis_contract import EVENTS_PATH, ProblemType
from tests.integration.server.conftest import Device
from tests.integration.server.problems import assert_problem
from tests.integration.server.uploads import make_capture, upload
from tests.support.server import LiveServer, ServerFactory


def _events(lines: Iterator[str]) -> Iterator[tuple[str, dict[str, str]]]:
    """Parse an SSE line stream into ("comment", {...}) and ("event", fields) items."""
    fields: dict[str, str] = {}
    for line in lines:
        if line.startswith(":"):
            yield "comment", {"text": line[1:].strip()}
        elif line == "":
            if fields:
                yield "event", fields
                fields = {}
        else:
            name, _, value = line.partition(":")
            fields[name] = value.lstrip()


def test_stored_captures_are_streamed_to_their_device(
    shared_server: LiveServer, new_device: Callable[[], Device]
) -> None:
    """A subscriber gets `event: capture` with the stored record for its own device's captures
    and not for another device's; the stream is unbuffered (X-Accel-Buffering: no)."""
    mine, other = new_device(), new_device()
    theirs, ours = make_capture(), make_capture()
    with shared_server.client(mine.token) as client, client.stream("GET", EVENTS_PATH) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert stream.headers["x-accel-buffering"] == "no"
        events = _events(stream.iter_lines())
        assert next(events) == ("comment", {"text": "connected"})
        with shared_server.client(other.token) as uploader:
            assert upload(uploader, theirs).status_code == 201
        with shared_server.client(mine.token) as uploader:
            assert upload(uploader, ours).status_code == 201
        _, fields = next(e for e in events if e[0] == "event")
    assert fields["event"] == "capture"
    assert fields["id"] == ours.id
    record = json.loads(fields["data"])
    assert record["id"] == ours.id
    assert record["device"] == mine.name


def test_heartbeat_comments_keep_the_stream_alive(server_factory: ServerFactory) -> None:
    """With nothing stored, the stream sends heartbeat comments at the configured interval."""
    server = server_factory(env={"JARVIS_EVENTS_HEARTBEAT_SECONDS": "0.2"})
    token = server.create_token("laptop")
    with server.client(token) as client, client.stream("GET", EVENTS_PATH) as stream:
        events = _events(stream.iter_lines())
        assert next(events) == ("comment", {"text": "connected"})
        assert next(events) == ("comment", {"text": "heartbeat"})
        assert next(events) == ("comment", {"text": "heartbeat"})


def test_stopping_the_server_ends_open_streams(server_factory: ServerFactory) -> None:
    """SIGTERM with a subscriber connected: the stream ends and the server exits cleanly."""
    server = server_factory()
    token = server.create_token("laptop")
    with server.client(token) as client, client.stream("GET", EVENTS_PATH) as stream:
        lines = stream.iter_lines()
        assert next(lines) == ": connected"
        process = server.process
        assert process is not None
        process.terminate()
        list(lines)  # returns once the server closed the stream
        # uvicorn re-raises the signal after a graceful shutdown, hence -SIGTERM.
        assert process.wait() in (0, -signal.SIGTERM)
    server.process = None
    assert "Application shutdown complete" in server.log_tail()


def test_events_need_a_token(shared_server: LiveServer) -> None:
    """401 problem document for a subscriber without a token."""
    with shared_server.client() as client:
        assert_problem(client.get(EVENTS_PATH), 401, ProblemType.UNAUTHORIZED)
