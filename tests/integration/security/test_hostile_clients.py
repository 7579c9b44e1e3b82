"""Hostile and slow clients (trust review items 7, 9 and 11, and nosniff), replayed against the
real server: downloads that are never read, event streams of tokens that stopped being valid,
connections that never finish their request, and bodies that lie about their size."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest

from jarvis_contract import CAPTURES_PATH, EVENTS_PATH, PROBLEM_MEDIA_TYPE, ProblemType
from tests.integration.server.conftest import BACKENDS
from tests.integration.server.problems import assert_problem
from tests.integration.server.uploads import make_capture, make_image, upload
from tests.support.server import LiveServer, ServerFactory

# Bounds for a broken server, not expectations: a healthy one answers in well under a second.
_PATIENCE = 90.0

Serve = Callable[..., LiveServer]


@pytest.fixture(params=BACKENDS)
def serve(request: pytest.FixtureRequest, server_factory: ServerFactory) -> Serve:
    """`serve(env=None)`: a started server of this test's own, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return server_factory
    url: str = request.getfixturevalue("postgres_database")
    return lambda env=None: server_factory(env=env, database_url=url)


def _connect(server: LiveServer, *, receive_buffer: int | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer is not None:
        # Set before connecting, so the window the server sees stays this small.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(_PATIENCE)
    sock.connect(("127.0.0.1", server.port))
    return sock


def _request(method: str, path: str, token: str | None = None, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    lines.extend(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body of one response with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the middle of the response body"
        body += chunk
    return int(status_line.split()[1]), headers, body


def _closed_by_server(sock: socket.socket, dribble: bytes = b"") -> bool:
    """Wait (bounded) for the server to close the connection, sending `dribble` a byte at a time
    meanwhile, as a slowloris client does; True once closed, False if still open at the bound."""
    deadline = time.monotonic() + _PATIENCE
    while time.monotonic() < deadline:
        readable, _, _ = select.select([sock], [], [], 0.1)
        try:
            if readable:
                return sock.recv(65536) == b""
            if dribble:
                sock.sendall(dribble[:1])
                dribble = dribble[1:]
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


def _upload_big(server: LiveServer, token: str, seed: int) -> tuple[str, int]:
    """Store a real PNG of a few megabytes: far more than the socket buffers between a stalled
    reader and the server hold, so the server's writes must wait for the reader."""
    data = make_image("image/png", size=(1024, 1024), seed=seed)
    capture = make_capture(data, mime="image/png", width=1024, height=1024)
    with server.client(token) as client:
        response = upload(client, capture)
    assert response.status_code == 201, response.text
    return capture.id, len(data)


def _peeked(sock: socket.socket) -> bytes:
    """What has arrived on the socket, left unread (the server still sees a full window)."""
    readable, _, _ = select.select([sock], [], [], _PATIENCE)
    assert readable, "no response started"
    return sock.recv(64, socket.MSG_PEEK)


def test_stalled_image_downloads_hold_no_database_connection(serve: Serve) -> None:
    """24 image downloads that never read their response (more than the database pool holds)
    all start, and meanwhile another device's upload is stored and /health/db answers 200:
    no database connection stays checked out while an image streams."""
    server = serve()
    owner = server.create_token("owner")
    other = server.create_token("other")
    capture_id, _ = _upload_big(server, owner, seed=7)
    request = _request("GET", f"{CAPTURES_PATH}/{capture_id}/image", owner)
    with ExitStack() as stack:
        stalled = []
        for _ in range(24):
            sock = stack.enter_context(_connect(server, receive_buffer=4096))
            sock.sendall(request)
            stalled.append(sock)
        for sock in stalled:
            assert _peeked(sock).startswith(b"HTTP/1.1 200 "), "a stalled download was refused"

        with server.client(other) as client:
            assert upload(client, make_capture()).status_code == 201
            assert client.get("/health/db").status_code == 200


def test_a_client_that_stops_reading_is_dropped(server_factory: ServerFactory) -> None:
    """A download whose client stops reading is cut off after the send timeout (logged), so it
    pins no task, file or socket: the client gets less than the image, then the end."""
    server = server_factory(env={"JARVIS_RESPONSE_SEND_TIMEOUT_SECONDS": "1"})
    token = server.create_token("owner")
    capture_id, size = _upload_big(server, token, seed=8)
    with _connect(server, receive_buffer=4096) as sock:
        sock.sendall(_request("GET", f"{CAPTURES_PATH}/{capture_id}/image", token))
        assert _peeked(sock).startswith(b"HTTP/1.1 200 ")
        deadline = time.monotonic() + _PATIENCE
        while "dropped a client that stopped reading" not in server.log_tail(200):
            assert time.monotonic() < deadline, "the stalled download was never dropped"
            time.sleep(0.1)
        received = 0
        try:
            while chunk := sock.recv(65536):
                received += len(chunk)
        except ConnectionResetError:
            pass
    assert received < size


def _stream_ended(lines: Iterator[str]) -> bool:
    """Read an event stream until the server ends it (True) or a bounded time passes with
    heartbeats still arriving (False). No `event:` may arrive meanwhile."""
    deadline = time.monotonic() + _PATIENCE
    for line in lines:
        assert not line.startswith("event:"), f"an event reached a dead token's stream: {line}"
        if time.monotonic() > deadline:
            return False
    return True


_FAST_STREAMS = {
    "JARVIS_EVENTS_HEARTBEAT_SECONDS": "0.2",
    "JARVIS_EVENTS_TOKEN_RECHECK_SECONDS": "0.5",
}


def test_revoked_tokens_stream_is_closed(serve: Serve) -> None:
    """An admin's event stream (it sees every device's captures) ends soon after the admin
    device is revoked with `jarvis-server token revoke` from another process; a new stream
    with that token is refused with 403."""
    server = serve(env=_FAST_STREAMS)
    admin = server.create_token("watcher", admin=True)
    laptop = server.create_token("laptop")
    with server.client(admin) as client, client.stream("GET", EVENTS_PATH) as stream:
        lines = stream.iter_lines()
        assert next(lines) == ": connected"
        with server.client(laptop) as uploader:
            stored = make_capture()
            assert upload(uploader, stored).status_code == 201
        event = next(line for line in lines if line.startswith("data:"))
        assert json.loads(event.removeprefix("data:"))["id"] == stored.id

        server.revoke("watcher")
        assert _stream_ended(lines), "the revoked token's stream stayed open"
    with server.client(admin) as client:
        assert_problem(client.get(EVENTS_PATH), 403, ProblemType.REVOKED)


def test_replaced_tokens_stream_is_closed(serve: Serve) -> None:
    """A device's event stream ends soon after `jarvis-server token create` gives the device a
    new token; the new token's stream is unaffected and the old token is refused (401)."""
    server = serve(env=_FAST_STREAMS)
    old = server.create_token("laptop")
    with server.client(old) as client, client.stream("GET", EVENTS_PATH) as stream:
        lines = stream.iter_lines()
        assert next(lines) == ": connected"
        new = server.create_token("laptop")
        assert _stream_ended(lines), "the replaced token's stream stayed open"
    with server.client(new) as client, client.stream("GET", EVENTS_PATH) as stream:
        assert stream.status_code == 200
        lines = stream.iter_lines()
        assert next(lines) == ": connected"
        with server.client(new) as uploader:
            stored = make_capture()
            assert upload(uploader, stored).status_code == 201
        event = next(line for line in lines if line.startswith("data:"))
        assert json.loads(event.removeprefix("data:"))["id"] == stored.id
    with server.client(old) as client:
        assert_problem(client.get(EVENTS_PATH), 401, ProblemType.UNAUTHORIZED)


def test_incomplete_request_headers_are_not_waited_for(server_factory: ServerFactory) -> None:
    """A connection that sends nothing, and one that sends half a request and then dribbles
    one header byte at a time (slowloris), are both closed by the server after the header
    timeout; the server still answers others."""
    server = server_factory(env={"JARVIS_REQUEST_HEADER_TIMEOUT_SECONDS": "1"})
    with _connect(server) as idle, _connect(server) as slow:
        slow.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        assert _closed_by_server(slow, dribble=b"X-Slow: " + b"a" * 2000), "slowloris kept"
        assert _closed_by_server(idle), "an idle connection was kept"
    with server.client() as client:
        assert client.get("/health").status_code == 200


def test_a_huge_content_length_is_refused_at_once(server_factory: ServerFactory) -> None:
    """An upload declaring Content-Length 99999999999999 and sending no body gets a 413
    problem document without the server waiting for the body; the idle connection is then
    closed."""
    server = server_factory()
    token = server.create_token("laptop")
    with _connect(server) as sock:
        sock.sendall(
            _request(
                "POST",
                CAPTURES_PATH,
                token,
                "Content-Type: multipart/form-data; boundary=x",
                "Content-Length: 99999999999999",
            )
        )
        status, headers, body = _read_response(sock)
        assert _closed_by_server(sock)
    assert status == 413
    assert headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert headers["x-content-type-options"] == "nosniff"
    problem = json.loads(body)
    assert problem["type"] == ProblemType.TOO_LARGE
    assert "JARVIS_MAX_UPLOAD_BYTES" in problem["detail"]


def test_a_body_that_stops_arriving_gets_408(server_factory: ServerFactory) -> None:
    """An upload whose client stops sending halfway through the image gets a 408 problem
    document after the body timeout, and nothing of it is kept."""
    server = server_factory(env={"JARVIS_REQUEST_BODY_TIMEOUT_SECONDS": "1"})
    token = server.create_token("laptop")
    capture = make_capture()
    part = (
        b'--x\r\nContent-Disposition: form-data; name="file"; filename="c"\r\n'
        b"Content-Type: image/jpeg\r\n\r\n" + capture.data[:100]
    )
    with _connect(server) as sock:
        sock.sendall(
            _request(
                "POST",
                CAPTURES_PATH,
                token,
                "Content-Type: multipart/form-data; boundary=x",
                f"Content-Length: {len(part) + 5000}",
                f"Idempotency-Key: {capture.id}",
            )
            + part
        )
        status, headers, body = _read_response(sock)
    assert status == 408
    assert headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    assert json.loads(body)["type"] == ProblemType.BAD_REQUEST
    assert server.temp_files() == []
    assert server.stored_files() == []


def test_every_response_says_nosniff(server_factory: ServerFactory) -> None:
    """X-Content-Type-Options: nosniff on JSON, problem documents, images and uvicorn's own
    reply to a malformed request (the early 413 is checked with its own test)."""
    server = server_factory()
    token = server.create_token("laptop")
    capture = make_capture()
    with server.client(token) as client:
        responses = [
            client.get("/health"),
            client.get("/no-such-path"),
            client.get(CAPTURES_PATH, headers={"Authorization": "Bearer nope"}),
            upload(client, capture),
            client.get(f"{CAPTURES_PATH}/{capture.id}/image"),
        ]
    assert [r.status_code for r in responses] == [200, 404, 401, 201, 200]
    assert responses[4].headers["content-type"] == "image/jpeg"
    for response in responses:
        assert response.headers["x-content-type-options"] == "nosniff", response.request.url
    with _connect(server) as sock:
        sock.sendall(b"NOT HTTP\r\n\r\n")
        status, headers, _ = _read_response(sock)
    assert status == 400
    assert headers["x-content-type-options"] == "nosniff"
