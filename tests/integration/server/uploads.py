"""Helpers for server tests: real images, contract metadata, and multipart uploads."""

from __future__ import annotations

import hashlib
import io
import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from PIL import Image

from jarvis_contract import CAPTURES_PATH, IDEMPOTENCY_HEADER


def uuid7() -> uuid.UUID:
    """A UUIDv7 (time-ordered), as the agent makes capture ids."""
    ms = int(datetime.now(UTC).timestamp() * 1000)
    value = (ms << 80) | (0x7 << 76) | (random.getrandbits(12) << 64)
    value |= (0b10 << 62) | random.getrandbits(62)
    return uuid.UUID(int=value)


def make_image(
    mime: str = "image/jpeg", size: tuple[int, int] = (64, 48), seed: int | None = None
) -> bytes:
    """A real, decodable image of the given type with pseudo-random pixels."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, format={"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}[mime])
    return out.getvalue()


def _size_of(data: bytes) -> tuple[int, int]:
    """The image's width and height as its header says (the server checks them against the
    metadata); 64x48 for bytes that are not an image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (OSError, SyntaxError, ValueError):
        return 64, 48


@dataclass
class Capture:
    """One capture the test will upload: its bytes and the metadata the agent would send."""

    data: bytes
    meta: dict[str, Any]

    @property
    def id(self) -> str:
        return str(self.meta["id"])


def make_capture(
    data: bytes | None = None,
    *,
    mime: str = "image/jpeg",
    captured_at: datetime | None = None,
    capture_id: uuid.UUID | None = None,
    **overrides: Any,
) -> Capture:
    data = data if data is not None else make_image(mime)
    width, height = _size_of(data)
    meta: dict[str, Any] = {
        "id": str(capture_id or uuid7()),
        "captured_at": (captured_at or datetime.now(UTC)).isoformat(),
        "monitor": 0,
        "width": width,
        "height": height,
        "mime_type": mime,
        "byte_size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "app_name": "Terminal",
        "window_title": "~/src",
        "redacted_regions": 0,
        "agent_version": "0.1.0",
    }
    meta.update(overrides)
    return Capture(data, meta)


def upload(
    client: httpx.Client,
    capture: Capture,
    *,
    key: str | None = None,
    send_key: bool = True,
    metadata: bytes | str | None = None,
) -> httpx.Response:
    """POST the capture as the agent does: multipart file + metadata JSON, Idempotency-Key."""
    headers = {IDEMPOTENCY_HEADER: key or capture.id} if send_key else {}
    meta = metadata if metadata is not None else json.dumps(capture.meta)
    files = {
        "file": ("capture", capture.data, capture.meta.get("mime_type", "image/jpeg")),
        "metadata": (None, meta, "application/json"),
    }
    return client.post(CAPTURES_PATH, files=files, headers=headers)
