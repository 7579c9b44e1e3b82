"""POST /api/v1/captures against the real server: every status code, and what ends up stored."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from jarvis_contract import (
    CAPTURES_PATH,
    IDEMPOTENCY_HEADER,
    CaptureRecord,
    ProblemType,
)
from tests.integration.server.conftest import Device, files_of, records_of
from tests.integration.server.problems import assert_problem
from tests.integration.server.uploads import Capture, make_capture, make_image, upload
from tests.support.server import LiveServer, ServerFactory


def assert_not_stored(server: LiveServer, capture: Capture) -> None:
    """No row, no file and no unfinished upload for this capture."""
    assert records_of(server, capture.id) == []
    assert files_of(server, capture.id) == []
    assert server.temp_files() == []


def test_first_upload_is_stored_with_its_file(shared_server: LiveServer, laptop: Device) -> None:
    """201: the record echoes the metadata, the device comes from the token, the file is intact."""
    capture = make_capture(window_title="Inbox - Mail")
    with shared_server.client(laptop.token) as client:
        response = upload(client, capture)
    assert response.status_code == 201, response.text
    record = CaptureRecord.model_validate_json(response.content)
    assert str(record.id) == capture.id
    assert record.device == "laptop"
    assert record.sha256 == capture.meta["sha256"]
    assert record.window_title == "Inbox - Mail"
    assert response.headers["location"] == f"{CAPTURES_PATH}/{capture.id}"
    assert records_of(shared_server, capture.id) == [record]
    [stored] = files_of(shared_server, capture.id)
    assert stored.name == f"{capture.id}.jpg"
    assert stored.read_bytes() == capture.data
    assert shared_server.image_bytes(capture.id) == capture.data
    assert shared_server.temp_files() == []
    log = shared_server.log_path.read_text()
    assert "capture stored" in log
    assert laptop.token not in log


def test_device_in_metadata_is_ignored(shared_server: LiveServer, laptop: Device) -> None:
    """A `device` field (or any unknown field) in the metadata cannot file a capture elsewhere."""
    capture = make_capture(device="someone-else", future_field={"x": 1})
    with shared_server.client(laptop.token) as client:
        assert upload(client, capture).status_code == 201
    assert [r.device for r in records_of(shared_server, capture.id)] == ["laptop"]


@pytest.mark.parametrize("mime", ["image/png", "image/webp"])
def test_png_and_webp_are_accepted(shared_server: LiveServer, laptop: Device, mime: str) -> None:
    """PNG and WebP images declared as such are stored under their own extension."""
    capture = make_capture(mime=mime)
    with shared_server.client(laptop.token) as client:
        assert upload(client, capture).status_code == 201
    [stored] = files_of(shared_server, capture.id)
    assert stored.suffix == {"image/png": ".png", "image/webp": ".webp"}[mime]


def test_replay_answers_200_and_stores_nothing_new(
    shared_server: LiveServer, laptop: Device
) -> None:
    """200 on a replay of the same id and bytes: same record, still one row and one file."""
    capture = make_capture()
    with shared_server.client(laptop.token) as client:
        first = upload(client, capture)
        second = upload(client, capture)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json() == first.json()
    assert len(records_of(shared_server, capture.id)) == 1
    assert len(files_of(shared_server, capture.id)) == 1
    assert shared_server.temp_files() == []


def test_same_id_other_content_is_a_conflict(shared_server: LiveServer, laptop: Device) -> None:
    """422 when an id is reused for other bytes; the stored row and file are untouched."""
    original = make_capture(make_image(seed=1))
    other = make_capture(make_image(seed=2), capture_id=original.meta["id"])
    with shared_server.client(laptop.token) as client:
        assert upload(client, original).status_code == 201
        response = upload(client, other)
    body = assert_problem(response, 422, ProblemType.CONFLICT)
    assert original.id in body["detail"]
    [record] = records_of(shared_server, original.id)
    assert record.sha256 == original.meta["sha256"]
    [stored] = files_of(shared_server, original.id)
    assert stored.read_bytes() == original.data
    assert shared_server.temp_files() == []


def test_same_id_from_two_devices_is_two_captures(
    shared_server: LiveServer, new_device: Callable[[], Device]
) -> None:
    """Idempotency is per device: another device's capture with the same id is its own capture,
    and neither file replaces the other."""
    one, two = new_device(), new_device()
    a = make_capture(make_image(seed=1))
    b = make_capture(make_image(seed=2), capture_id=a.meta["id"])
    with shared_server.client(one.token) as client:
        assert upload(client, a).status_code == 201
    with shared_server.client(two.token) as client:
        assert upload(client, b).status_code == 201
    assert sorted(r.device for r in records_of(shared_server, a.id)) == sorted([one.name, two.name])
    files = files_of(shared_server, a.id)
    assert sorted(p.read_bytes() for p in files) == sorted([a.data, b.data])


def test_concurrent_replays_store_one_capture(shared_server: LiveServer, laptop: Device) -> None:
    """The same capture sent 8 times at once: one 201, the rest 200, one row and one file."""
    capture = make_capture()
    barrier = threading.Barrier(8)

    def send(_: int) -> int:
        with shared_server.client(laptop.token) as client:
            barrier.wait()
            return upload(client, capture).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(send, range(8)))
    assert codes == [200] * 7 + [201]
    assert len(records_of(shared_server, capture.id)) == 1
    assert [p.read_bytes() for p in files_of(shared_server, capture.id)] == [capture.data]
    assert shared_server.temp_files() == []


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        ("missing", ProblemType.BAD_METADATA),
        ("not-json", ProblemType.BAD_METADATA),
        ("bad-field", ProblemType.BAD_METADATA),
        ("naive-time", ProblemType.BAD_METADATA),
        ("no-key", ProblemType.IDEMPOTENCY_MISMATCH),
        ("other-key", ProblemType.IDEMPOTENCY_MISMATCH),
        ("sha", ProblemType.CONTENT_MISMATCH),
        ("size", ProblemType.CONTENT_MISMATCH),
    ],
)
def test_bad_requests_are_400_and_store_nothing(
    shared_server: LiveServer, laptop: Device, case: str, problem: str
) -> None:
    """400 for missing/malformed metadata, a missing or different Idempotency-Key, and bytes
    that do not match byte_size/sha256; nothing is stored and no temporary file remains."""
    capture = make_capture()
    with shared_server.client(laptop.token) as client:
        if case == "missing":
            response = client.post(
                CAPTURES_PATH,
                files={"file": ("c.jpg", capture.data, "image/jpeg")},
                headers={IDEMPOTENCY_HEADER: capture.id},
            )
        elif case == "not-json":
            response = upload(client, capture, metadata="{not json")
        elif case == "no-key":
            response = upload(client, capture, send_key=False)
        elif case == "other-key":
            response = upload(client, capture, key=make_capture().id)
        else:
            changes = {
                "bad-field": {"monitor": -1},
                "naive-time": {"captured_at": "2026-01-01T12:00:00"},
                "sha": {"sha256": hashlib.sha256(b"other").hexdigest()},
                "size": {"byte_size": len(capture.data) + 1},
            }[case]
            capture.meta.update(changes)
            response = upload(client, capture)
    assert_problem(response, 400, problem)
    assert_not_stored(shared_server, capture)


def test_bad_metadata_names_the_field_but_not_the_values(
    shared_server: LiveServer, laptop: Device
) -> None:
    """The 400 says which field is wrong and does not echo the window title back."""
    capture = make_capture(window_title="secret-title " * 300)  # over the 2048 limit
    with shared_server.client(laptop.token) as client:
        body = assert_problem(upload(client, capture), 400, ProblemType.BAD_METADATA)
    assert "window_title" in body["detail"]
    assert "secret-title" not in json.dumps(body)


def test_missing_file_part_is_400(shared_server: LiveServer, laptop: Device) -> None:
    """400 when the multipart body has metadata but no `file` part."""
    capture = make_capture()
    with shared_server.client(laptop.token) as client:
        response = client.post(
            CAPTURES_PATH,
            files={"metadata": (None, json.dumps(capture.meta), "application/json")},
            headers={IDEMPOTENCY_HEADER: capture.id},
        )
    assert_problem(response, 400, ProblemType.BAD_REQUEST)
    assert_not_stored(shared_server, capture)


def test_missing_or_unknown_token_is_401(shared_server: LiveServer) -> None:
    """401 with WWW-Authenticate for no token and for a token the server never issued."""
    capture = make_capture()
    with shared_server.client() as client:
        response = upload(client, capture)
    assert_problem(response, 401, ProblemType.UNAUTHORIZED)
    assert response.headers["www-authenticate"].startswith("Bearer")
    with shared_server.client("jv_not-a-real-token") as client:
        assert_problem(upload(client, capture), 401, ProblemType.UNAUTHORIZED)
    assert_not_stored(shared_server, capture)


def test_revoked_device_is_403(shared_server: LiveServer, new_device: Callable[[], Device]) -> None:
    """403 once `token revoke` ran; a new `token create` for the device works again and the
    revoked token stays refused."""
    device = new_device()
    shared_server.revoke(device.name)
    capture = make_capture()
    with shared_server.client(device.token) as client:
        body = assert_problem(upload(client, capture), 403, ProblemType.REVOKED)
    assert device.name in body["detail"]
    assert_not_stored(shared_server, capture)
    fresh = shared_server.create_token(device.name)
    with shared_server.client(fresh) as client:
        assert upload(client, capture).status_code == 201
    with shared_server.client(device.token) as client:
        assert_problem(upload(client, make_capture()), 401, ProblemType.UNAUTHORIZED)


def test_revocation_holds_for_a_device_that_just_uploaded(
    shared_server: LiveServer, new_device: Callable[[], Device]
) -> None:
    """A device that uploaded a moment ago (so the server remembers its token as verified) is
    refused at once after `token revoke` (403) and after its token is replaced (401): no row,
    no file and no temporary file is left of either refused capture."""
    revoked, replaced = new_device(), new_device()
    for device in (revoked, replaced):
        with shared_server.client(device.token) as client:
            assert upload(client, make_capture()).status_code == 201
    shared_server.revoke(revoked.name)
    shared_server.create_token(replaced.name)
    after_revoke, after_replace = make_capture(), make_capture()
    with shared_server.client(revoked.token) as client:
        assert_problem(upload(client, after_revoke), 403, ProblemType.REVOKED)
    with shared_server.client(replaced.token) as client:
        assert_problem(upload(client, after_replace), 401, ProblemType.UNAUTHORIZED)
    assert_not_stored(shared_server, after_revoke)
    assert_not_stored(shared_server, after_replace)


def test_too_large_is_413_and_leaves_no_file(server_factory: ServerFactory) -> None:
    """413 when the file part passes JARVIS_MAX_UPLOAD_BYTES, whether or not Content-Length
    announces it; the partial file is removed and the next upload works."""
    server = server_factory(env={"JARVIS_MAX_UPLOAD_BYTES": "20000"})
    token = server.create_token("laptop")
    big = make_capture(make_image(size=(400, 300)))
    assert len(big.data) > 20000
    boundary = "jarvisboundary"

    def chunked() -> Iterator[bytes]:
        # No Content-Length: the limit must hold while the body streams in.
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="metadata"\r\n\r\n'
            f"{json.dumps(big.meta)}\r\n--{boundary}\r\nContent-Disposition: form-data; "
            'name="file"; filename="c.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
        ).encode()
        for i in range(0, len(big.data), 4096):
            yield big.data[i : i + 4096]
        yield f"\r\n--{boundary}--\r\n".encode()

    with server.client(token) as client:
        body = assert_problem(upload(client, big), 413, ProblemType.TOO_LARGE)
        assert "20000" in body["detail"]
        response = client.post(
            CAPTURES_PATH,
            content=chunked(),
            headers={
                "content-type": f"multipart/form-data; boundary={boundary}",
                IDEMPOTENCY_HEADER: big.id,
            },
        )
        assert_problem(response, 413, ProblemType.TOO_LARGE)
        small = make_capture()
        assert upload(client, small).status_code == 201
    assert [str(r.id) for r in server.captures()] == [small.id]
    assert [p.name for p in server.stored_files()] == [f"{small.id}.jpg"]
    assert server.temp_files() == []


@pytest.mark.parametrize("case", ["not-an-image", "other-type", "truncated", "not-multipart"])
def test_not_the_declared_image_is_415(
    shared_server: LiveServer, laptop: Device, case: str
) -> None:
    """415 for bytes that are not an image, an image of another type than declared, a JPEG
    that does not decode, or a body that is not multipart; nothing is stored."""
    jpeg = make_image("image/jpeg", size=(200, 150))
    data = {
        "not-an-image": b"%PDF-1.7 definitely not an image" * 10,
        "other-type": make_image("image/png"),
        "truncated": jpeg[: len(jpeg) // 2],
        "not-multipart": jpeg,
    }[case]
    capture = make_capture(data, mime="image/jpeg")
    with shared_server.client(laptop.token) as client:
        if case == "not-multipart":
            response = client.post(
                CAPTURES_PATH,
                content=data,
                headers={"content-type": "image/jpeg", IDEMPOTENCY_HEADER: capture.id},
            )
        else:
            response = upload(client, capture)
    assert_problem(response, 415, ProblemType.UNSUPPORTED_MEDIA)
    assert_not_stored(shared_server, capture)


def test_rate_limit_is_429_with_retry_after(server_factory: ServerFactory) -> None:
    """429 with Retry-After once a device used its burst; other devices are not affected."""
    server = server_factory(
        env={"JARVIS_RATE_LIMIT_PER_MINUTE": "1", "JARVIS_RATE_LIMIT_BURST": "2"}
    )
    laptop, desktop = server.create_token("laptop"), server.create_token("desktop")
    with server.client(laptop) as client:
        codes = [upload(client, make_capture()).status_code for _ in range(2)]
        limited = upload(client, make_capture())
    assert codes == [201, 201]
    body = assert_problem(limited, 429, ProblemType.RATE_LIMITED)
    assert int(limited.headers["retry-after"]) >= 1
    assert limited.headers["retry-after"] in body["detail"]
    with server.client(desktop) as client:
        assert upload(client, make_capture()).status_code == 201
    assert len(server.captures()) == 3
