"""Jarvis sync: the wire contract, the encrypted outbox, the uploader and the sync worker."""

from importlib.metadata import version as _version

from jarvis_sync.contract import (
    CAPTURES_PATH,
    IDEMPOTENCY_HEADER,
    MIME_TYPES,
    CaptureMetadata,
    CapturePage,
    CaptureRecord,
    MimeType,
    Problem,
    ProblemType,
)

__version__ = _version("jarvis-sync")

__all__ = [
    "CAPTURES_PATH",
    "IDEMPOTENCY_HEADER",
    "MIME_TYPES",
    "CaptureMetadata",
    "CapturePage",
    "CaptureRecord",
    "MimeType",
    "Problem",
    "ProblemType",
    "__version__",
]
