"""Trust review item 8 and trailing-data polyglots: what an uploaded image may cost the server
to check, and that an image carrying anything after its end is refused.

All against the real server over loopback. Decoding does not depend on the database, so these
run on SQLite only.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from PIL import Image

from jarvis_contract import ProblemType
from tests.integration.server.problems import assert_problem
from tests.integration.server.uploads import Capture, make_capture, make_image, upload
from tests.support.server import LiveServer, make_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server with default settings for the module."""
    live = make_server(tmp_path_factory.mktemp("decode-server"))
    live.start()
    yield live
    live.stop()


def _stored(server: LiveServer, capture: Capture) -> bool:
    return any(p.name.startswith(capture.id) for p in server.stored_files())


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _header_only(mime: str, width: int, height: int) -> bytes:
    """A file whose header announces width x height but whose pixel data is junk: refusing it
    for its size (413) rather than as undecodable (415) shows the size is checked first."""
    junk = bytes(range(256)) * 8
    if mime == "image/png":
        ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
        return (
            b"\x89PNG\r\n\x1a\n"
            + _png_chunk(b"IHDR", ihdr)
            + _png_chunk(b"IDAT", junk)
            + _png_chunk(b"IEND", b"")
        )
    if mime == "image/webp":
        vp8x = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little")
        vp8x += (height - 1).to_bytes(3, "little")
        chunks = b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
        chunks += b"VP8 " + struct.pack("<I", len(junk)) + junk
        return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks
    real = make_image("image/jpeg", size=(16, 16))
    sof = real.index(b"\xff\xc0")
    return real[: sof + 5] + struct.pack(">HH", height, width) + real[sof + 9 :]


@pytest.mark.parametrize("mime", ["image/png", "image/webp", "image/jpeg"])
def test_too_many_pixels_is_refused_before_decoding(server: LiveServer, mime: str) -> None:
    """An image of 9400x9400 (88 MP: just under Pillow's bomb limit, over the server's pixel
    budget of one 8K screen) is refused with 413 naming the pixel count, from its header
    alone: its junk pixel data is never decoded. Nothing is stored."""
    capture = make_capture(_header_only(mime, 9400, 9400), mime=mime, width=9400, height=9400)
    with server.client(server.create_token("huge-header")) as client:
        body = assert_problem(upload(client, capture), 413, ProblemType.TOO_LARGE)
    assert "9400x9400" in body["detail"]
    assert "JARVIS_MAX_IMAGE_PIXELS" in body["detail"]
    assert not _stored(server, capture)


def test_a_real_image_over_the_pixel_budget_is_refused(server: LiveServer) -> None:
    """A real, decodable 9400x9400 PNG (the review's 336 KB bomb, here bilevel to spare the
    test's memory), whose metadata tells the truth, is refused with 413: it was accepted and
    decoded before, at +345 MB for the server."""
    data = _encode(Image.new("1", (9400, 9400), 1), "PNG")
    capture = make_capture(data, mime="image/png", width=9400, height=9400)
    with server.client(server.create_token("bomb")) as client:
        assert_problem(upload(client, capture), 413, ProblemType.TOO_LARGE)
    assert not _stored(server, capture)


@pytest.mark.parametrize("mime", ["image/jpeg", "image/png", "image/webp"])
def test_size_disagreeing_with_the_metadata_is_400(server: LiveServer, mime: str) -> None:
    """An image whose header says 64x48 while the metadata says 640x480 is refused with a 400
    naming both sizes; nothing is stored."""
    capture = make_capture(make_image(mime, size=(64, 48)), mime=mime, width=640, height=480)
    with server.client(server.create_token("liar")) as client:
        body = assert_problem(upload(client, capture), 400, ProblemType.BAD_METADATA)
    assert "64x48" in body["detail"]
    assert "640x480" in body["detail"]
    assert not _stored(server, capture)


def test_a_flood_from_one_device_does_not_fail_another(server: LiveServer) -> None:
    """While device A sends 40 PNGs of 4000x4000 over 20 connections at once, device B's
    uploads (PNGs too, so they queue for the same decoders) are all stored. A's flood is shed:
    beyond what may wait for its turn, its uploads get 429 problems with a Retry-After; none
    fails any other way."""
    flood_png = _encode(Image.new("RGB", (4000, 4000), (40, 90, 160)), "PNG")
    a_token = server.create_token("flooder")
    b_token = server.create_token("bystander")
    floods = [make_capture(flood_png, mime="image/png") for _ in range(40)]
    mine = [
        make_capture(make_image("image/png", size=(320, 200), seed=i), mime="image/png")
        for i in range(4)
    ]

    def send_a(capture: Capture) -> httpx.Response:
        with server.client(a_token) as client:
            return upload(client, capture)

    with ThreadPoolExecutor(20) as pool:
        flood = [pool.submit(send_a, c) for c in floods]
        with server.client(b_token) as client:
            b_answers = [upload(client, c) for c in mine]
        a_answers = [f.result() for f in flood]

    assert [r.status_code for r in b_answers] == [201] * len(mine), [r.text for r in b_answers]
    assert all(_stored(server, c) for c in mine)
    statuses = Counter(r.status_code for r in a_answers)
    assert set(statuses) <= {201, 429}, statuses
    assert statuses[429] > 0, statuses
    for response in a_answers:
        if response.status_code == 429:
            assert_problem(response, 429, ProblemType.RATE_LIMITED)
            assert response.headers["Retry-After"] == "1"


def _jpeg() -> bytes:
    return make_image("image/jpeg", size=(64, 48), seed=1)


def _png() -> bytes:
    return make_image("image/png", size=(64, 48), seed=1)


def _webp() -> bytes:
    return make_image("image/webp", size=(64, 48), seed=1)


def _riff_size(data: bytes, size: int) -> bytes:
    return data[:4] + struct.pack("<I", size) + data[8:]


ZIP = b"PK\x03\x04" + b"\x14\x00" + b"\x00" * 24 + b"secret.txt" + b"hidden payload"
POLYGLOTS = {
    "jpeg-then-zip": (lambda: _jpeg() + ZIP, "image/jpeg", "end-of-image"),
    "jpeg-then-one-byte": (lambda: _jpeg() + b"\x00", "image/jpeg", "trailing data"),
    "png-without-iend": (lambda: _png()[:-12], "image/png", "IEND"),
    "png-then-zip": (lambda: _png() + ZIP, "image/png", "follow its IEND"),
    "webp-then-zip": (lambda: _webp() + ZIP, "image/webp", "RIFF"),
    "webp-riff-size-too-small": (
        lambda: _riff_size(_webp() + ZIP, len(_webp()) - 8),
        "image/webp",
        "RIFF",
    ),
    "webp-riff-size-too-large": (lambda: _riff_size(_webp(), 4096), "image/webp", "RIFF"),
}


@pytest.mark.parametrize("case", list(POLYGLOTS))
def test_trailing_data_is_refused(server: LiveServer, case: str) -> None:
    """An image followed by other bytes (a polyglot: a JPEG after its end-of-image marker, a
    PNG after IEND or without one, a WebP whose RIFF size is not the file's) is not the
    declared image: 415, with a message naming what is wrong. Nothing is stored."""
    make, mime, named = POLYGLOTS[case]
    capture = make_capture(make(), mime=mime)
    with server.client(server.create_token("polyglot")) as client:
        body = assert_problem(upload(client, capture), 415, ProblemType.UNSUPPORTED_MEDIA)
        assert named in body["detail"]
        whole = make_capture(
            {"image/jpeg": _jpeg, "image/png": _png, "image/webp": _webp}[mime](), mime=mime
        )
        assert upload(client, whole).status_code == 201
    assert not _stored(server, capture)
