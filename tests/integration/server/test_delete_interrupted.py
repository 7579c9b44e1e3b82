"""A delete whose image removal the store refused: the capture's row goes at once, and its
image is removed for good once the store answers again (at the next delete, or at the next
start), never kept in the bucket or in quarantine."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from jarvis_contract import CAPTURES_PATH
from tests.integration.server.uploads import Capture, make_capture, make_image, upload
from tests.support.postgres import free_port
from tests.support.s3 import S3Server, stop_s3_server
from tests.support.server import LiveServer, make_server

PREFIX = "jarvis/captures"


@pytest.fixture
def s3(tmp_path: Path) -> Iterator[S3Server]:
    (tmp_path / "s3" / "buckets").mkdir(parents=True)
    server = S3Server(root=tmp_path / "s3" / "buckets", port=free_port())
    server.start()
    yield server
    stop_s3_server(server)


def _leftovers(s3: S3Server, bucket: str, capture: Capture) -> list[Path]:
    """Every object in the whole bucket (quarantine included) that holds this capture."""
    return [p for p in s3.bucket_dir(bucket).rglob("*") if p.is_file() and capture.id in p.name]


def _wait_for_store(client: httpx.Client) -> None:
    deadline = time.monotonic() + 120
    while client.get("/health/storage").status_code != 200:
        assert time.monotonic() < deadline, "the store never came back"
        time.sleep(0.2)


def test_images_of_captures_deleted_while_the_store_was_down_are_removed_after(
    s3: S3Server, tmp_path: Path
) -> None:
    """With the S3 server down, DELETE answers {"deleted": 1} and the capture is gone from the
    API while its object is still in the bucket; once the store is back, the next delete
    removes it too, and an image left by a delete just before a restart is removed by the
    start. The capture nobody deleted keeps its object."""
    bucket = s3.new_bucket()
    server: LiveServer = make_server(
        tmp_path / "home", s3.env(bucket, PREFIX), object_dir=s3.bucket_dir(bucket) / PREFIX
    )
    server.start()
    try:
        token = server.create_token("laptop")
        first, second, third, kept = (make_capture(make_image(seed=i)) for i in range(4))
        with server.client(token) as client:
            for capture in (first, second, third, kept):
                assert upload(client, capture).status_code == 201
            s3.stop()
            response = client.delete(f"{CAPTURES_PATH}/{first.id}")
            assert response.status_code == 200, response.text
            assert response.json() == {"deleted": 1}
            assert client.get(f"{CAPTURES_PATH}/{first.id}").status_code == 404
            assert _leftovers(s3, bucket, first), "the object went although the store was down"
            s3.start()
            _wait_for_store(client)
            assert client.delete(f"{CAPTURES_PATH}/{second.id}").json() == {"deleted": 1}
        assert not _leftovers(s3, bucket, first), "an earlier delete's image outlived it"
        assert not _leftovers(s3, bucket, second)

        with server.client(token) as client:
            s3.stop()
            assert client.delete(f"{CAPTURES_PATH}/{third.id}").json() == {"deleted": 1}
        server.stop()
        assert _leftovers(s3, bucket, third)
        s3.start()
        server.start()
        assert not _leftovers(s3, bucket, third), "the start kept a deleted capture's image"
        assert server.image_bytes(kept.id) == kept.data
        assert [str(r.id) for r in server.captures()] == [kept.id]
    finally:
        server.stop()
