"""Small JPEG previews of stored captures for the timeline page, made on request.

Nothing is cached on disk: a thumbnail would be a second, unencrypted copy of the capture outside
storage, left behind when the capture is deleted. The browser may keep it (private caching).
JPEG images are decoded at a reduced scale (Pillow's draft mode), so a 1080p capture costs a few
milliseconds; images were bounded in pixels when they were uploaded.
"""

from __future__ import annotations

import io
from typing import Final

import anyio

__all__ = ["MAX_WIDTH", "MIN_WIDTH", "thumbnail"]

MIN_WIDTH: Final = 32
MAX_WIDTH: Final = 960
_QUALITY: Final = 75
# Thumbnails made at once: decoding is CPU work, and a day's scrubber asks for many at a time.
_LIMITER: Final = anyio.CapacityLimiter(2)


def _make(data: bytes, width: int) -> bytes:
    from PIL import Image  # on the first thumbnail, not before the server listens

    with Image.open(io.BytesIO(data)) as image:
        height = max(1, round(image.height * width / image.width))
        if image.format == "JPEG":
            image.draft("RGB", (width, height))
        small = image.convert("RGB")
        small.thumbnail((width, height), Image.Resampling.BILINEAR)
        out = io.BytesIO()
        small.save(out, "JPEG", quality=_QUALITY)
        return out.getvalue()


async def thumbnail(data: bytes, width: int) -> bytes:
    """A JPEG of the image `data`, `width` pixels wide (never wider than the image)."""
    return await anyio.to_thread.run_sync(_make, data, width, limiter=_LIMITER)
