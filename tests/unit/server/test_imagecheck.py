"""Magic bytes and the decode check that tell a real image of the declared type from others."""

from __future__ import annotations

import io
import random
import zlib
from pathlib import Path

import numpy as np
import pytest
import simplejpeg  # type: ignore[import-untyped]
from PIL import Image

from jarvis_server.imagecheck import check_image, sniff


def _image(fmt: str, size: tuple[int, int] = (32, 24)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("fmt", "mime"), [("JPEG", "image/jpeg"), ("PNG", "image/png"), ("WEBP", "image/webp")]
)
def test_real_images_pass(tmp_path: Path, fmt: str, mime: str) -> None:
    """A decodable image of the declared type passes, and its magic bytes name the type."""
    data = _image(fmt)
    path = tmp_path / "img"
    path.write_bytes(data)
    assert sniff(data[:16]) == mime
    assert check_image(path, mime) is None
    assert check_image(data, mime) is None


def test_other_type_than_declared_is_named(tmp_path: Path) -> None:
    """A PNG declared as JPEG is refused, and the message says what it really is."""
    data = _image("PNG")
    path = tmp_path / "img"
    path.write_bytes(data)
    problem = check_image(path, "image/jpeg")
    assert problem is not None
    assert "image/png" in problem
    assert check_image(data, "image/jpeg") == problem


def test_corrupt_jpeg_is_refused(tmp_path: Path) -> None:
    """Right magic bytes but a body that does not decode: refused."""
    data = _image("JPEG", (256, 256))
    data = data[:200] + b"\x00" * 50
    path = tmp_path / "img"
    path.write_bytes(data)
    assert check_image(path, "image/jpeg") is not None
    assert check_image(data, "image/jpeg") is not None


def test_not_an_image_is_refused(tmp_path: Path) -> None:
    """Bytes without any image signature are refused before decoding."""
    path = tmp_path / "img"
    path.write_bytes(b"GIF89a" + b"\x00" * 100)
    problem = check_image(path, "image/jpeg")
    assert problem is not None
    assert "not a JPEG, PNG or WebP" in problem


def _photo(size: tuple[int, int] = (320, 240), **save: object) -> bytes:
    """A JPEG with real entropy-coded data (noise over a gradient), saved with `save` options."""
    rng = random.Random(7)
    base = Image.linear_gradient("L").resize(size).convert("RGB")
    noise = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    out = io.BytesIO()
    Image.blend(base, noise, 0.3).save(out, format="JPEG", **save)
    return out.getvalue()


def _with_exif_thumbnail(data: bytes) -> bytes:
    """`data` with an APP1 segment holding a whole small JPEG (its own scan and EOI), as camera
    and screenshot tools embed thumbnails."""
    thumbnail = _photo((16, 16))
    payload = b"Exif\x00\x00" + thumbnail
    app1 = b"\xff\xe1" + (len(payload) + 2).to_bytes(2, "big") + payload
    return data[:2] + app1 + data[2:]


@pytest.mark.parametrize(
    "save",
    [{}, {"progressive": True}, {"optimize": True}, {"restart_marker_blocks": 4}],
    ids=["baseline", "progressive", "optimized", "restart-markers"],
)
def test_jpeg_variants_pass(save: dict[str, object]) -> None:
    """Baseline, progressive (several scans with tables between them), optimized and
    restart-marker JPEGs all pass, and so does the agent's own encoder's output."""
    assert check_image(_photo(**save), "image/jpeg") is None
    assert check_image(_with_exif_thumbnail(_photo(**save)), "image/jpeg") is None


def test_agent_encoder_output_passes() -> None:
    """What the agent uploads (simplejpeg from a BGRA frame, 4:2:0) passes."""
    frame = np.random.default_rng(3).integers(0, 256, (120, 160, 4), dtype=np.uint8)
    data = bytes(simplejpeg.encode_jpeg(frame, quality=80, colorspace="BGRA"))
    assert check_image(data, "image/jpeg") is None


@pytest.mark.parametrize("cut", [1, 2, 100, 5000])
def test_truncated_jpeg_is_refused(cut: int) -> None:
    """A JPEG missing its last bytes (even only the final byte of its end marker) is refused,
    also when an embedded thumbnail earlier in the file is whole."""
    data = _photo()
    for variant in (data, _with_exif_thumbnail(data)):
        problem = check_image(variant[:-cut], "image/jpeg")
        assert problem is not None
        assert "truncated" in problem or "end" in problem


def test_spliced_jpeg_is_refused() -> None:
    """A reserved marker in the middle of the scan data (bytes from elsewhere pasted in) or
    a header segment whose length points nowhere is refused."""
    data = _photo()
    middle = len(data) // 2
    assert check_image(data[:middle] + b"\xff\x02" + data[middle:], "image/jpeg") is not None
    broken_header = data[:4] + b"\xff\xff" + data[6:]  # APP0's length now runs past the end
    assert check_image(broken_header, "image/jpeg") is not None


def _interlaced_png(width: int, height: int, *, bad_filter: bool = False) -> bytes:
    """An 8-bit RGB Adam7-interlaced PNG (Pillow cannot write one), rows unfiltered."""
    rng = random.Random(width * 1000 + height)
    raw = bytearray()
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4)]
    for x0, y0, dx, dy in [*passes, (1, 0, 2, 2), (0, 1, 1, 2)]:
        columns = len(range(x0, width, dx))
        for _ in range(y0, height, dy):
            if columns:
                raw += b"\x00" + rng.randbytes(columns * 3)
    if bad_filter:
        raw[0] = 9

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return len(body).to_bytes(4, "big") + kind + body + crc.to_bytes(4, "big")

    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 1])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(bytes(raw)))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("size", [(1, 1), (3, 2), (9, 5), (33, 17)])
def test_interlaced_png_passes(size: tuple[int, int]) -> None:
    """An interlaced PNG that Pillow decodes passes the streaming check (its seven passes are
    laid out right); one with an unknown row filter is refused, as Pillow refuses it."""
    good = _interlaced_png(*size)
    with Image.open(io.BytesIO(good)) as image:
        image.load()
    assert check_image(good, "image/png") is None
    problem = check_image(_interlaced_png(*size, bad_filter=True), "image/png")
    assert problem is not None
    assert "filter" in problem


@pytest.mark.parametrize("mode", ["1", "L", "P", "RGB", "RGBA", "LA", "I;16"])
def test_png_modes_pass_and_trailing_bytes_do_not(mode: str) -> None:
    """PNGs of every colour type and bit depth Pillow writes pass; the same with a byte after
    IEND, or without IEND, are refused as trailing data or truncated."""
    image = Image.new("RGB", (37, 11), (200, 30, 30)).convert(mode if mode != "I;16" else "I")
    data = _image_of(image.convert(mode) if mode == "I;16" else image)
    assert check_image(data, "image/png") is None
    assert "trailing data" in (check_image(data + b"\x00", "image/png") or "")
    assert "IEND" in (check_image(data[:-12], "image/png") or "")


def _image_of(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def test_pixel_budget_is_checked_from_the_header() -> None:
    """An image over the pixel budget is refused by its header's size, named in the message."""
    data = _image("PNG", (300, 200))
    problem = check_image(data, "image/png", max_pixels=300 * 200 - 1)
    assert problem is not None
    assert "300x200" in problem
    assert check_image(data, "image/png", max_pixels=300 * 200) is None
