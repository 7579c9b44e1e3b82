"""The errors jarvis_sync raises; third-party errors are translated at the boundary and chained.

    SyncError
    ├── OutboxError                 the outbox could not do what was asked
    │   ├── OutboxFullError         the byte cap or the disk is full and nothing could be evicted
    │   └── OutboxKeyError          the outbox key cannot open what was sealed with another key
    ├── CredentialsError            the token or the outbox key could not be read or stored
    │   ├── KeyringUnavailableError no working OS keyring backend
    │   └── IdentityKeyError        the local server identity key is missing, damaged or exposed
    └── UploadError                 the server refused the login check (see `LoginError`)
        └── LoginError              the token was refused or the server could not be reached

Messages say what is wrong and what to do; none ever contains a token or a key.
"""

from __future__ import annotations


class SyncError(Exception):
    """Base class of every error jarvis_sync raises."""


class OutboxError(SyncError):
    """The outbox could not do what was asked; the message says why and what to do."""


class OutboxFullError(OutboxError):
    """The capture was not accepted: the outbox byte cap or the disk is full."""


class OutboxKeyError(OutboxError):
    """A sealed blob does not open with the current outbox key (the key changed or was lost)."""


class CredentialsError(SyncError):
    """The device token or the outbox key could not be read or stored."""


class KeyringUnavailableError(CredentialsError):
    """No working OS keyring backend; the message names the fix."""


class IdentityKeyError(CredentialsError):
    """The identity key file is missing, unreadable, malformed or readable by others."""


class UploadError(SyncError):
    """An exchange with the server failed in a way the caller must report."""


class LoginError(UploadError):
    """`login` could not confirm the token with the server; nothing was stored."""
