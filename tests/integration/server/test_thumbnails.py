"""Thumbnails for the timeline page: small JPEGs made on request, under the same access rules."""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image

from jarvis_contract import CAPTURES_PATH, ProblemType
from tests.integration.server.conftest import Device
from tests.integration.server.problems import assert_problem
from tests.integration.server.uploads import make_capture, make_image, upload
from tests.support.server import LiveServer


def test_thumbnail_is_a_small_jpeg_for_its_own_device_only(
    shared_server: LiveServer, new_device: Callable[[], Device]
) -> None:
    """A 1280x720 PNG capture gives a 240x135 JPEG; another device's capture is 404; a width
    out of bounds is 400; nothing new appears in storage."""
    mine, theirs = new_device(), new_device()
    capture = make_capture(make_image("image/png", size=(1280, 720), seed=1), mime="image/png")
    with shared_server.client(mine.token) as client:
        assert upload(client, capture).status_code == 201
    files_before = shared_server.stored_files()
    path = f"{CAPTURES_PATH}/{capture.id}/thumbnail"
    with shared_server.client(mine.token) as client:
        response = client.get(path, params={"width": "240"})
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/jpeg"
        assert response.headers["cache-control"].startswith("private")
        with Image.open(io.BytesIO(response.content)) as image:
            assert (image.format, image.size) == ("JPEG", (240, 135))
        assert_problem(client.get(path, params={"width": "5000"}), 400, ProblemType.VALIDATION)
    with shared_server.client(theirs.token) as client:
        assert_problem(client.get(path), 404, ProblemType.NOT_FOUND)
    assert shared_server.stored_files() == files_before
