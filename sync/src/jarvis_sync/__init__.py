"""Jarvis sync: the encrypted outbox, the server client, the sync worker and keyring credentials.

The wire contract they speak lives in `jarvis_contract`. Names load on first use (PEP 562), so
`import jarvis_sync.credentials` or a CLI command that needs one piece does not pay for the
outbox, cryptography and httpx as well.
"""

import importlib as _importlib
from typing import TYPE_CHECKING
from typing import Any as _Any

if TYPE_CHECKING:
    from jarvis_sync.cipher import BlobCipher
    from jarvis_sync.client import Health, ServerClient
    from jarvis_sync.credentials import (
        delete_token,
        load_token,
        outbox_key,
        store_token,
        use_secrets_file,
    )
    from jarvis_sync.errors import (
        CredentialsError,
        IdentityKeyError,
        KeyringUnavailableError,
        OutboxError,
        OutboxFullError,
        OutboxKeyError,
        ServerError,
        ServerUnreachableError,
        SyncError,
        TokenRefusedError,
        UnexpectedReplyError,
        UntrustedServerError,
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
    from jarvis_sync.replies import UploadOutcome, classify
    from jarvis_sync.retry import MAX_RETRY_AFTER, RetryPolicy, parse_retry_after, set_testing
    from jarvis_sync.sizes import format_size
    from jarvis_sync.uploader import Uploader
    from jarvis_sync.worker import SyncState, SyncStatus, SyncWorker

# Each public name and the module that defines it.
_HOMES: dict[str, str] = {
    "BlobCipher": "cipher",
    "Health": "client",
    "ServerClient": "client",
    "delete_token": "credentials",
    "load_token": "credentials",
    "outbox_key": "credentials",
    "store_token": "credentials",
    "use_secrets_file": "credentials",
    "CredentialsError": "errors",
    "IdentityKeyError": "errors",
    "KeyringUnavailableError": "errors",
    "OutboxError": "errors",
    "OutboxFullError": "errors",
    "OutboxKeyError": "errors",
    "ServerError": "errors",
    "ServerUnreachableError": "errors",
    "SyncError": "errors",
    "TokenRefusedError": "errors",
    "UnexpectedReplyError": "errors",
    "UntrustedServerError": "errors",
    "Outbox": "outbox",
    "EntryState": "outbox_models",
    "OutboxEntry": "outbox_models",
    "OutboxStats": "outbox_models",
    "RecentCapture": "outbox_models",
    "RecentState": "outbox_models",
    "WhenFull": "outbox_models",
    "MAX_RETRY_AFTER": "retry",
    "RetryPolicy": "retry",
    "parse_retry_after": "retry",
    "set_testing": "retry",
    "format_size": "sizes",
    "Uploader": "uploader",
    "UploadOutcome": "replies",
    "classify": "replies",
    "SyncState": "worker",
    "SyncStatus": "worker",
    "SyncWorker": "worker",
}


def __getattr__(name: str) -> _Any:
    if name == "__version__":
        from importlib.metadata import version

        return version("jarvis-sync")
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'jarvis_sync' has no attribute {name!r}")
    value = getattr(_importlib.import_module(f"jarvis_sync.{home}"), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "MAX_RETRY_AFTER",
    "BlobCipher",
    "CredentialsError",
    "EntryState",
    "Health",
    "IdentityKeyError",
    "KeyringUnavailableError",
    "Outbox",
    "OutboxEntry",
    "OutboxError",
    "OutboxFullError",
    "OutboxKeyError",
    "OutboxStats",
    "RecentCapture",
    "RecentState",
    "RetryPolicy",
    "ServerClient",
    "ServerError",
    "ServerUnreachableError",
    "SyncError",
    "SyncState",
    "SyncStatus",
    "SyncWorker",
    "TokenRefusedError",
    "UnexpectedReplyError",
    "UntrustedServerError",
    "UploadOutcome",
    "Uploader",
    "WhenFull",
    "__version__",
    "classify",
    "delete_token",
    "format_size",
    "load_token",
    "outbox_key",
    "parse_retry_after",
    "set_testing",
    "store_token",
    "use_secrets_file",
]
