"""The image formats the agent can encode, and the MIME type each is sent as: listed once here.

The config's `capture.image_format` choices and the encoder's MIME types both come from here; the
MIME types themselves are the wire contract's (`jarvis_contract.MimeType`).
"""

from __future__ import annotations

from typing import Final, Literal

from jarvis_contract import MimeType

__all__ = ["MIME_TYPES", "ImageFormat"]

ImageFormat = Literal["jpeg", "webp", "png"]
MIME_TYPES: Final[dict[ImageFormat, MimeType]] = {
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "png": "image/png",
}
