"""A killed server leaves no orphans: start-up reconciliation of rows, files and unfinished
uploads, which marks and quarantines but never deletes a capture."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable

import httpx

from jarvis_contract import CAPTURES_PATH, IDEMPOTENCY_HEADER
from tests.integration.server.uploads import make_capture, make_image, upload
from tests.support.server import LiveServer


def _start_slow_upload(
    server: LiveServer, token: str, data: bytes, meta: dict[str, object]
) -> socket.socket:
    """Send the headers and about a third of a multipart upload, then stall, as a slow link."""
    boundary = "crashboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
        f"{json.dumps(meta)}\r\n--{boundary}\r\nContent-Disposition: form-data; "
        f'name="file"; filename="c.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + len(data) + len(tail)
    request = (
        f"POST {CAPTURES_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\n{IDEMPOTENCY_HEADER}: {meta['id']}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(request + head + data[: len(data) // 3])
    return sock


def _wait_for(condition: Callable[[], bool], server: LiveServer) -> None:
    # A bound only for a broken server; the upload reaches the disk within milliseconds.
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, server.log_tail()
        time.sleep(0.02)


def test_sigkill_mid_upload_leaves_no_orphan_after_restart(server: LiveServer) -> None:
    """SIGKILL while a large upload streams in (past what the server buffers in memory, so it
    is spilling to a temporary file): after restart there is no temporary file and no row for
    it, an old file left without a row is moved to quarantine (not deleted), a row left without
    its file is kept and marked missing, intact captures are untouched, and the interrupted
    capture can simply be sent again."""
    token = server.create_token("laptop")
    intact, lost_file = make_capture(), make_capture()
    with server.client(token) as client:
        assert upload(client, intact).status_code == 201
        assert upload(client, lost_file).status_code == 201

    # A third of it (what is sent before the stall) exceeds the 1 MiB in-memory buffer.
    interrupted = make_capture(make_image(size=(3200, 2400)))
    sock = _start_slow_upload(server, token, interrupted.data, interrupted.meta)
    try:
        _wait_for(lambda: bool(server.temp_files()), server)
        server.kill()
    finally:
        sock.close()
    assert server.temp_files(), "the killed upload should have left its temporary file"

    # What a crash between "file placed" and "row committed" leaves (two hours ago, past the
    # crash window), and a file lost on disk.
    orphan = server.storage_dir / "2026" / "01" / "01" / f"{make_capture().id}.jpg"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(orphan_bytes := make_image())
    two_hours_ago = time.time() - 2 * 3600
    os.utime(orphan, (two_hours_ago, two_hours_ago))
    [lost] = [p for p in server.stored_files() if p.name.startswith(lost_file.id)]
    lost.unlink()

    server.start()
    assert server.temp_files() == []
    assert not orphan.exists()
    [quarantined] = server.quarantined_files()
    assert quarantined.name == orphan.name
    assert quarantined.read_bytes() == orphan_bytes
    records = {str(r.id): r for r in server.captures()}
    assert set(records) == {intact.id, lost_file.id}
    assert records[intact.id].image_missing_since is None
    assert records[lost_file.id].image_missing_since is not None
    assert [p.name for p in server.stored_files()] == [f"{intact.id}.jpg"]
    assert server.image_bytes(intact.id) == intact.data

    with server.client(token) as client:
        assert upload(client, interrupted).status_code == 201
    assert server.image_bytes(interrupted.id) == interrupted.data


def test_clients_that_vanish_mid_request_do_not_kill_the_server(shared_server: LiveServer) -> None:
    """Clients that reset their connection while the server writes its reply (a killed agent,
    a dropped link) leave the server running and answering."""
    request = b"GET /openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    for _ in range(200):
        with socket.create_connection(("127.0.0.1", shared_server.port), timeout=5) as client:
            client.sendall(request)  # and gone before the reply: it meets a closed socket
    assert shared_server.running, shared_server.log_tail()
    assert httpx.get(f"{shared_server.url}/health", timeout=5).status_code == 200
