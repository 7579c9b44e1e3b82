"""Capture ids: UUIDv7, so ids sort by creation time (the outbox and the server order by them)."""

from __future__ import annotations

import uuid

from uuid_utils import compat

__all__ = ["new_capture_id"]


def new_capture_id() -> uuid.UUID:
    """A fresh UUIDv7 as a standard-library UUID."""
    return compat.uuid7()
