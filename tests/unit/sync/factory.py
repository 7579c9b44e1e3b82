"""Real, small, distinct images and their contract metadata, for outbox and upload tests."""

from __future__ import annotations

import hashlib
import io
import os
import uuid
from datetime import UTC, datetime

from PIL import Image

from jarvis_contract import CaptureMetadata


def png_bytes(width: int = 16, height: int = 12, *, seed: bytes | None = None) -> bytes:
    """A valid PNG whose pixels come from `seed` (random when None), so every image differs."""
    noise = seed if seed is not None else os.urandom(width * height * 3)
    pixels = (noise * (width * height * 3 // max(len(noise), 1) + 1))[: width * height * 3]
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def jpeg_bytes(width: int, height: int, *, quality: int = 95) -> bytes:
    """A noisy JPEG (noise compresses badly, which makes large files on purpose)."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(
        buffer, format="JPEG", quality=quality
    )
    return buffer.getvalue()


def metadata_for(
    data: bytes,
    *,
    mime_type: str = "image/png",
    width: int = 16,
    height: int = 12,
    capture_id: uuid.UUID | None = None,
    captured_at: datetime | None = None,
    title: str | None = "Notes - editor",
) -> CaptureMetadata:
    """Contract metadata describing `data` truthfully."""
    return CaptureMetadata.model_validate(
        {
            "id": capture_id or uuid.uuid4(),
            "captured_at": captured_at or datetime.now(UTC),
            "monitor": 0,
            "width": width,
            "height": height,
            "mime_type": mime_type,
            "byte_size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "app_name": "editor",
            "window_title": title,
            "redacted_regions": 0,
            "agent_version": "0.1.0-test",
        }
    )


def capture(**kwargs: object) -> tuple[CaptureMetadata, bytes]:
    """A fresh PNG and its metadata."""
    data = png_bytes()
    return metadata_for(data, **kwargs), data  # type: ignore[arg-type]
