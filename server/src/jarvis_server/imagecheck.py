"""Is this file really the image type the agent declared? Magic bytes first, then a decode."""

from __future__ import annotations

import io
import warnings
from pathlib import Path
from typing import Final

from PIL import Image

_PIL_FORMATS: Final = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}


def sniff(head: bytes) -> str | None:
    """The image type the first bytes announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def check_image(source: bytes | Path, declared: str) -> str | None:
    """None when the bytes (or the file) are a decodable image of the declared type, else what
    is wrong. Uploads small enough to stay in memory are checked there, never read back."""
    if isinstance(source, bytes):
        head = source[:16]
    else:
        with source.open("rb") as f:
            head = f.read(16)
    found = sniff(head)
    if found is None:
        return f"the file is not a JPEG, PNG or WebP image (declared {declared})"
    if found != declared:
        return f"the file is {found} but the metadata declares {declared}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = io.BytesIO(source) if isinstance(source, bytes) else source
            with Image.open(opened, formats=[_PIL_FORMATS[declared]]) as image:
                if declared == "image/jpeg":
                    # DCT scaling decodes every block at 1/8 size: truncation and corrupt
                    # entropy data still fail, at a fraction of the cost of a full decode.
                    image.draft("RGB", (max(1, image.width // 8), max(1, image.height // 8)))
                image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Warning) as exc:
        return f"the {declared} file cannot be decoded ({type(exc).__name__})"
    return None
