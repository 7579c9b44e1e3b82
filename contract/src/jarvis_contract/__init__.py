"""Jarvis wire contract: the models, paths and headers that the agent and the server share.

It depends on pydantic alone, so the server (and anything else that only speaks the protocol)
imports it without the agent's client side: no outbox, keyring, cryptography or httpx.
"""

from importlib.metadata import version as _version

from jarvis_contract._digest import DigestedBytes
from jarvis_contract._wire import (
    API_PREFIX,
    CAPTURES_PATH,
    DELETE_RANGE_PATH,
    EVENTS_PATH,
    EXTENSIONS,
    HEALTH_PATH,
    IDEMPOTENCY_HEADER,
    IDENTITY_KEY_BYTES,
    IDENTITY_NONCE_PATTERN,
    IDENTITY_PATH,
    MIGRATING_NOTICE,
    MIME_TYPES,
    PROBLEM_MEDIA_TYPE,
    SEARCH_PATH,
    CaptureMetadata,
    CapturePage,
    CaptureRecord,
    CaptureTime,
    Deleted,
    DeleteRange,
    IdentityProof,
    MimeType,
    Problem,
    ProblemType,
    SearchHit,
    SearchPage,
    TextBox,
    UtcDatetime,
    identity_proof,
    read_identity_key_text,
)

__version__ = _version("jarvis-contract")

__all__ = [
    "API_PREFIX",
    "CAPTURES_PATH",
    "DELETE_RANGE_PATH",
    "EVENTS_PATH",
    "EXTENSIONS",
    "HEALTH_PATH",
    "IDEMPOTENCY_HEADER",
    "IDENTITY_KEY_BYTES",
    "IDENTITY_NONCE_PATTERN",
    "IDENTITY_PATH",
    "MIGRATING_NOTICE",
    "MIME_TYPES",
    "PROBLEM_MEDIA_TYPE",
    "SEARCH_PATH",
    "CaptureMetadata",
    "CapturePage",
    "CaptureRecord",
    "CaptureTime",
    "DeleteRange",
    "Deleted",
    "DigestedBytes",
    "IdentityProof",
    "MimeType",
    "Problem",
    "ProblemType",
    "SearchHit",
    "SearchPage",
    "TextBox",
    "UtcDatetime",
    "__version__",
    "identity_proof",
    "read_identity_key_text",
]
