"""Turning stored rows into the wire model."""

from __future__ import annotations

from datetime import UTC, datetime

from jarvis_contract import CaptureRecord
from jarvis_server.models import Capture


def utc(value: datetime) -> datetime:
    """SQLite hands datetimes back without an offset; everything is stored in UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_record(capture: Capture, device: str | None = None) -> CaptureRecord:
    """The wire record; pass the device name when it is known, to spare loading the relation."""
    return CaptureRecord.model_validate(
        {
            "id": capture.id,
            "device": device if device is not None else capture.device.name,
            "captured_at": utc(capture.captured_at),
            "received_at": utc(capture.received_at),
            "monitor": capture.monitor,
            "width": capture.width,
            "height": capture.height,
            "mime_type": capture.mime_type,
            "byte_size": capture.byte_size,
            "sha256": capture.sha256,
            "app_name": capture.app_name,
            "window_title": capture.window_title,
            "redacted_regions": capture.redacted_regions,
            "agent_version": capture.agent_version,
            "image_missing_since": (
                utc(capture.file_missing_since) if capture.file_missing_since else None
            ),
        }
    )
