"""Magic bytes and the decode check that tell a real image of the declared type from others."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
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
