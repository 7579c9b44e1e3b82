"""Captures kept in an S3-compatible bucket (the session's `rclone serve s3` and moto's server):
stored once under date-partitioned keys below the configured prefix, read back whole, refused
settings named in one line at start, a store that goes away answered with 503 and nothing
half-written, and a filesystem store copied into a bucket with every object verified by sha256."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from jarvis_contract import CAPTURES_PATH, ProblemType
from tests.integration.server.problems import assert_problem
from tests.integration.server.uploads import Capture, make_capture, make_image, upload
from tests.support.postgres import free_port
from tests.support.s3 import S3Server, S3Service, stop_s3_server
from tests.support.server import LiveServer, make_server

PREFIX = "jarvis/captures"


@pytest.fixture
def made(tmp_path: Path) -> Iterator[list[LiveServer]]:
    servers: list[LiveServer] = []
    yield servers
    for server in servers:
        server.stop()


def _server(
    made: list[LiveServer], home: Path, s3: S3Service, bucket: str, prefix: str = PREFIX
) -> LiveServer:
    folder = s3.bucket_dir(bucket) / prefix if isinstance(s3, S3Server) else None
    server = make_server(home, s3.env(bucket, prefix), object_dir=folder)
    made.append(server)
    return server


def _objects(server: LiveServer, capture: Capture) -> list[Path]:
    return [p for p in server.stored_files() if p.name.startswith(capture.id)]


def test_captures_are_stored_once_under_dated_keys_and_read_back(
    s3_service: S3Service, tmp_path: Path, made: list[LiveServer]
) -> None:
    """An upload to a server on a bucket answers 201 and leaves one object at
    PREFIX/YYYY/MM/DD/<id>.*.jpg; a replay answers 200 and a reuse of the id with other bytes
    422, neither adding an object; the image reads back byte for byte; /health/storage is ok and
    its probe leaves nothing in the bucket. On rclone and moto."""
    bucket = s3_service.new_bucket()
    server = _server(made, tmp_path / "home", s3_service, bucket)
    server.start()
    token = server.create_token("laptop")
    when = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    capture = make_capture(make_image(seed=1), captured_at=when)
    with server.client(token) as client:
        assert upload(client, capture).status_code == 201
        assert upload(client, capture).status_code == 200
        other = make_capture(make_image(seed=2), capture_id=capture.meta["id"])
        assert_problem(upload(client, other), 422, ProblemType.CONFLICT)
        image = client.get(f"{CAPTURES_PATH}/{capture.id}/image")
        health = client.get("/health/storage")
    assert image.status_code == 200
    assert image.content == capture.data
    assert health.status_code == 200, health.text
    assert health.json()["status"] == "ok"
    everything = s3_service.objects(bucket)
    [key] = everything
    assert key.startswith(f"{PREFIX}/2026/03/04/{capture.id}."), key
    assert everything[key] == capture.data, "a probe or a refused upload left an object behind"


def test_a_bucket_removed_under_a_running_server_is_not_reported_as_lost_images(
    s3_service: S3Service, tmp_path: Path, made: list[LiveServer]
) -> None:
    """The bucket deleted while the server runs: an image request answers 503 (the store is
    unavailable, retry later), not 404 "image file missing" (a HEAD's 404 has no body to say
    whether the object or the bucket is missing), and the capture's row is kept unmarked;
    /health/storage answers 503 naming the bucket setting. On rclone and moto."""
    bucket = s3_service.new_bucket()
    server = _server(made, tmp_path / "home", s3_service, bucket)
    server.start()
    token = server.create_token("laptop")
    capture = make_capture(make_image(seed=1))
    with server.client(token) as client:
        assert upload(client, capture).status_code == 201
        s3_service.remove_bucket(bucket)
        response = client.get(f"{CAPTURES_PATH}/{capture.id}/image")
        assert_problem(response, 503, ProblemType.UNAVAILABLE)
        health = client.get("/health/storage")
    assert health.status_code == 503
    assert "JARVIS_STORAGE_URL" in health.json()["detail"]
    [record] = server.captures()
    assert record.image_missing_since is None


def _serve_refusal(server: LiveServer) -> tuple[int, str]:
    done = subprocess.run(
        [sys.executable, "-m", "jarvis_server", "serve", "--port", str(server.port)],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=300,  # a bound for a hung start only; a refusal takes about a second
        check=False,
    )
    return done.returncode, done.stderr


def test_wrong_endpoint_bucket_or_credentials_stop_serve_with_one_line(
    s3_service: S3Service, tmp_path: Path
) -> None:
    """`serve` with a wrong endpoint, a bucket that does not exist, an unknown access key or a
    wrong secret exits 1 with one line naming the setting to fix, and never prints the
    secret. The credential cases run on rclone only: moto's server accepts any key and any
    signature (it checks them only once its IAM emulation is set up with users and policies)."""
    bucket = s3_service.new_bucket()
    wrong_secret = "not-the-secret-0123456789-abcdef"
    cases = {
        "JARVIS_S3_ENDPOINT_URL": {"JARVIS_S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"},
        "JARVIS_STORAGE_URL": {"JARVIS_STORAGE_URL": "s3://no-such-bucket/x"},
    }
    if s3_service.name == "rclone":
        cases["JARVIS_S3_ACCESS_KEY_ID"] = {"JARVIS_S3_ACCESS_KEY_ID": "nobody-knows-this-key"}
        cases["JARVIS_S3_SECRET_ACCESS_KEY"] = {"JARVIS_S3_SECRET_ACCESS_KEY": wrong_secret}
    for setting, change in cases.items():
        server = make_server(tmp_path / setting, {**s3_service.env(bucket), **change})
        code, stderr = _serve_refusal(server)
        assert code == 1, stderr
        assert "Traceback" not in stderr
        line = stderr.strip().splitlines()[-1]
        assert line.startswith(f"jarvis-server: {setting}: "), stderr
        assert wrong_secret not in stderr
        assert server.env["JARVIS_S3_SECRET_ACCESS_KEY"] not in stderr
    assert s3_service.objects(bucket) == {}, "a refused start wrote objects"


def test_an_unreachable_store_answers_503_and_everything_arrives_after(
    tmp_path: Path, made: list[LiveServer]
) -> None:
    """While the S3 server is down an upload answers 503 with Retry-After and keeps no row
    (and /health/storage says 503 naming JARVIS_S3_ENDPOINT_URL); once it is back, the same
    uploads are stored, each exactly once. On rclone only: moto keeps its objects in memory, so
    a stopped and restarted moto has lost the bucket and the capture stored before."""
    (tmp_path / "s3" / "buckets").mkdir(parents=True)
    s3 = S3Server(root=tmp_path / "s3" / "buckets", port=free_port())
    s3.start()
    try:
        bucket = s3.new_bucket()
        server = _server(made, tmp_path / "home", s3, bucket)
        server.start()
        token = server.create_token("laptop")
        first, *later = [make_capture(make_image(seed=i)) for i in range(4)]
        with server.client(token) as client:
            assert upload(client, first).status_code == 201
            s3.stop()
            for capture in later:
                response = upload(client, capture)
                body = assert_problem(response, 503, ProblemType.UNAVAILABLE)
                assert "Retry later" in body["detail"]
                assert int(response.headers["Retry-After"]) > 0
            health = client.get("/health/storage")
            assert health.status_code == 503
            assert "JARVIS_S3_ENDPOINT_URL" in health.json()["detail"]
            assert [str(r.id) for r in server.captures()] == [first.id]
            s3.start()
            deadline = time.monotonic() + 120
            while client.get("/health/storage").status_code != 200:
                assert time.monotonic() < deadline, "the store never came back"
                time.sleep(0.2)
            for capture in later:
                assert upload(client, capture).status_code == 201
        assert sorted(str(r.id) for r in server.captures()) == sorted(c.id for c in [first, *later])
        for capture in [first, *later]:
            [stored] = _objects(server, capture)
            assert stored.read_bytes() == capture.data
    finally:
        stop_s3_server(s3)


def test_a_filesystem_store_is_copied_into_a_bucket_and_verified(
    s3_service: S3Service, tmp_path: Path, made: list[LiveServer]
) -> None:
    """`storage migrate-to s3://...` copies every image file under its key, verifies each by
    sha256 and removes nothing; the server started on the bucket serves every image. A re-run
    skips what is there; an object in the bucket with other bytes is reported and not
    replaced (exit 1). On rclone and moto."""
    s3_bucket = s3_service.new_bucket()
    server = make_server(tmp_path / "home", s3_service.env(s3_bucket, PREFIX))
    server.env.pop("JARVIS_STORAGE_URL")  # the filesystem, with the bucket's credentials set
    made.append(server)
    server.start()
    token = server.create_token("laptop")
    captures = [make_capture(make_image(seed=i)) for i in range(3)]
    with server.client(token) as client:
        for capture in captures:
            assert upload(client, capture).status_code == 201
    server.stop()
    files = {p.relative_to(server.storage_dir): p.read_bytes() for p in server.stored_files()}
    url = f"s3://{s3_bucket}/{PREFIX}"

    done = server.cli("storage", "migrate-to", url)
    assert "all 3 verified by sha256" in done.stderr, done.stderr
    assert server.stored_files(), "the source was emptied"
    copied = s3_service.objects(s3_bucket, PREFIX)
    assert copied.keys() == {str(key) for key in files}
    for key, data in files.items():
        assert hashlib.sha256(copied[str(key)]).digest() == hashlib.sha256(data).digest()

    again = server.cli("storage", "migrate-to", url)
    assert "copied 0 objects" in again.stderr
    assert "3 were already there" in again.stderr
    first = next(iter(files))
    damaged = f"{PREFIX}/{first}"
    s3_service.put_object(s3_bucket, damaged, b"not the image")
    refused = server.cli("storage", "migrate-to", url, check=False)
    assert refused.returncode == 1
    assert "holds other bytes; not replaced" in refused.stderr
    assert s3_service.objects(s3_bucket, PREFIX)[str(first)] == b"not the image"
    s3_service.put_object(s3_bucket, damaged, files[first])

    server.env["JARVIS_STORAGE_URL"] = url
    if isinstance(s3_service, S3Server):
        server.object_dir = s3_service.bucket_dir(s3_bucket) / PREFIX
    server.start()
    for capture in captures:
        assert server.image_bytes(capture.id) == capture.data
