"""Encoding frames: JPEG (default), WebP, or lossless PNG, with an optional maximum dimension.

JPEG is encoded by simplejpeg straight from the BGRA frame; Pillow reads frames for WebP and PNG
("BGRX" raw mode, no conversion pass in Python). With a maximum dimension the frame is first
shrunk by an integer factor with Image.reduce (box filter, cheap) and only then resized exactly,
which is much faster than resizing the full frame with a high-quality filter. Shrinking works on
a zero-copy "RGBX" view of the BGRA buffer: resampling treats every channel alike, so the channel
order does not matter and the full-frame BGRA -> RGB unpack is saved.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt
import simplejpeg  # type: ignore[import-untyped]  # ships a .pyi but no py.typed marker
from PIL import Image

from jarvis_agent.capture.formats import MIME_TYPES, ImageFormat
from jarvis_contract import DigestedBytes, MimeType

__all__ = ["EncodedImage", "ImageFormat", "encode_frame", "make_thumbnail", "to_image"]

THUMBNAIL_SIZE: Final = 320
THUMBNAIL_QUALITY: Final = 70
WEBP_METHOD: Final = 2  # 0 (fast) .. 6 (small); 4, Pillow's default, costs ~3x more at 1080p


@dataclass(frozen=True, slots=True)
class EncodedImage:
    """Encoded bytes and what the metadata says about them.

    The sha256 is computed once, here; `data` carries it (DigestedBytes), so the outbox checks
    the metadata against it instead of hashing the image again.
    """

    data: bytes
    mime_type: MimeType
    width: int
    height: int
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        data = self.data if isinstance(self.data, DigestedBytes) else DigestedBytes(self.data)
        object.__setattr__(self, "data", data)
        object.__setattr__(self, "sha256", data.sha256)

    @property
    def byte_size(self) -> int:
        return len(self.data)


def to_image(pixels: npt.NDArray[np.uint8]) -> Image.Image:
    """A Pillow RGB image of a (height, width, 4) BGRA frame."""
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    return Image.frombuffer(
        "RGB", (width, height), np.ascontiguousarray(pixels), "raw", "BGRX", 0, 1
    )


def _words_view(pixels: npt.NDArray[np.uint8]) -> Image.Image:
    """A zero-copy Pillow "RGBX" image over a BGRA frame (bands are really B, G, R, X)."""
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    return Image.frombuffer(
        "RGBX", (width, height), np.ascontiguousarray(pixels), "raw", "RGBX", 0, 1
    )


def _shrink(image: Image.Image, max_dimension: int) -> Image.Image:
    longest = max(image.size)
    if longest <= max_dimension:
        return image
    factor = longest // max_dimension
    if factor >= 2:
        image = image.reduce(factor)
    if max(image.size) > max_dimension:
        scale = max_dimension / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.BILINEAR)
    return image


def encode_image(image: Image.Image, image_format: ImageFormat, quality: int) -> bytes:
    out = io.BytesIO()
    if image_format == "jpeg":
        image.save(out, "JPEG", quality=quality)
    elif image_format == "webp":
        image.save(out, "WEBP", quality=quality, method=WEBP_METHOD)
    elif image_format == "png":
        image.save(out, "PNG", compress_level=1)
    else:  # pragma: no cover - the config's choices are the formats
        raise ValueError(f"unknown image format {image_format!r}; use jpeg, webp or png")
    return out.getvalue()


def _jpeg(pixels: npt.NDArray[np.uint8], quality: int, colorspace: str) -> bytes:
    data = simplejpeg.encode_jpeg(
        np.ascontiguousarray(pixels), quality=quality, colorspace=colorspace, colorsubsampling="420"
    )
    return bytes(data)


def encode_frame(
    pixels: npt.NDArray[np.uint8],
    image_format: ImageFormat = "jpeg",
    *,
    quality: int = 80,
    max_dimension: int | None = None,
) -> EncodedImage:
    """Encode a BGRA frame; the result is at most `max_dimension` px on its longest side.

    JPEG goes through simplejpeg (libjpeg-turbo reading the BGRA frame as it is: no conversion
    pass, about half the time of Pillow's path at 1080p); WebP and PNG through Pillow.
    """
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    if max_dimension is not None and max(width, height) > max_dimension:
        shrunk = _shrink(_words_view(pixels), max_dimension)
        bgrx = np.asarray(shrunk)
        if image_format == "jpeg":
            data = _jpeg(bgrx, quality, "BGRX")
        else:
            data = encode_image(to_image(bgrx), image_format, quality)
        return EncodedImage(data, MIME_TYPES[image_format], shrunk.width, shrunk.height)
    if image_format == "jpeg":
        data = _jpeg(pixels, quality, "BGRA")
    else:
        data = encode_image(to_image(pixels), image_format, quality)
    return EncodedImage(data, MIME_TYPES[image_format], width, height)


def make_thumbnail(pixels: npt.NDArray[np.uint8], size: int = THUMBNAIL_SIZE) -> bytes:
    """A small JPEG of an (already redacted) BGRA frame for the tray's recent-captures view.

    `pixels` may be the frame itself or, as the pipeline passes it, the change check's strided
    sample of it (about 640 px wide, already made): a box reduction of that, then an exact
    resize, so small text turns grey instead of aliasing into noise. This is the picture the
    thumbnail always was (every n-th pixel, then a 2x box), minus a second pass over the frame.
    """
    image = _shrink(_words_view(pixels), size)
    return _jpeg(np.asarray(image), THUMBNAIL_QUALITY, "BGRX")
