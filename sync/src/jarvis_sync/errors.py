"""The errors jarvis_sync raises; third-party errors are translated at the boundary and chained.

    SyncError
    ├── OutboxError                 the outbox could not do what was asked
    │   ├── OutboxFullError         the byte cap or the disk is full and nothing could be evicted
    │   └── OutboxKeyError          the outbox key cannot open what was sealed with another key
    ├── CredentialsError            the token or the outbox key could not be read or stored
    │   ├── KeyringUnavailableError no working OS keyring backend
    │   └── IdentityKeyError        the local server identity key is missing, damaged or exposed
    └── ServerError                 an exchange with the server did not succeed (`ServerClient`)
        ├── ServerUnreachableError  no usable answer: refused, timed out, cut short, bad address
        ├── UntrustedServerError    the trust rule refused the server; nothing with the token left
        ├── TokenRefusedError       the server refused the device token (401, 403)
        └── UnexpectedReplyError    the server answered something else (404, 5xx, ...)

httpx's errors stop at `jarvis_sync.client`: it raises these, chained with `raise ... from`.
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


class ServerError(SyncError):
    """An exchange with the server did not succeed; `status` is the HTTP status if one came."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class ServerUnreachableError(ServerError):
    """No usable answer. `reason` is the short cause ("the server did not answer in time")."""

    def __init__(self, message: str, *, reason: str, timed_out: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.timed_out = timed_out


class UntrustedServerError(ServerError):
    """The trust rule (`jarvis_sync.trust`) refused the server before the token was sent."""


class TokenRefusedError(ServerError):
    """The server answered 401 (unknown token) or 403 (known but refused, e.g. revoked)."""


class UnexpectedReplyError(ServerError):
    """The server answered, but not as a Jarvis server does (no capture API, an error, ...)."""
