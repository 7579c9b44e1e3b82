"""Jarvis sync: the wire contract, the encrypted outbox, the uploader and the sync worker."""

from importlib.metadata import version as _version

from jarvis_sync.cipher import BlobCipher
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
from jarvis_sync.credentials import (
    delete_token,
    load_token,
    outbox_key,
    store_token,
    use_secrets_file,
)
from jarvis_sync.errors import (
    CredentialsError,
    KeyringUnavailableError,
    LoginError,
    OutboxError,
    OutboxFullError,
    OutboxKeyError,
    SyncError,
    UploadError,
)
from jarvis_sync.outbox import Outbox
from jarvis_sync.outbox_models import (
    EntryState,
    OutboxEntry,
    OutboxStats,
    RecentCapture,
    RecentState,
    WhenFull,
)
from jarvis_sync.retry import MAX_RETRY_AFTER, RetryPolicy, parse_retry_after, set_testing
from jarvis_sync.uploader import Uploader, UploadOutcome, classify
from jarvis_sync.worker import SyncState, SyncStatus, SyncWorker

__version__ = _version("jarvis-sync")

__all__ = [
    "CAPTURES_PATH",
    "IDEMPOTENCY_HEADER",
    "MAX_RETRY_AFTER",
    "MIME_TYPES",
    "BlobCipher",
    "CaptureMetadata",
    "CapturePage",
    "CaptureRecord",
    "CredentialsError",
    "EntryState",
    "KeyringUnavailableError",
    "LoginError",
    "MimeType",
    "Outbox",
    "OutboxEntry",
    "OutboxError",
    "OutboxFullError",
    "OutboxKeyError",
    "OutboxStats",
    "Problem",
    "ProblemType",
    "RecentCapture",
    "RecentState",
    "RetryPolicy",
    "SyncError",
    "SyncState",
    "SyncStatus",
    "SyncWorker",
    "UploadError",
    "UploadOutcome",
    "Uploader",
    "WhenFull",
    "__version__",
    "classify",
    "delete_token",
    "load_token",
    "outbox_key",
    "parse_retry_after",
    "set_testing",
    "store_token",
    "use_secrets_file",
]
