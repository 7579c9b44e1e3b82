"""Sealing of outbox blobs at rest: AES-256-GCM with the capture id as associated data.

Binding the id means a blob renamed to another capture's file does not open, so a mix-up can
never upload one capture's pixels under another capture's id.
"""

from __future__ import annotations

import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jarvis_sync.errors import OutboxKeyError

KEY_BYTES: Final = 32
_NONCE_BYTES: Final = 12
_MAGIC: Final = b"JVS1"  # format marker, so a future format can be told apart
OVERHEAD: Final = len(_MAGIC) + _NONCE_BYTES + 16  # magic + nonce + GCM tag


def new_key() -> bytes:
    """A fresh random AES-256 key."""
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


class BlobCipher:
    """Seals and opens byte strings under one AES-256 key."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the outbox key must be {KEY_BYTES} bytes, got {len(key)}")
        self._aead = AESGCM(key)

    def seal(self, associated: bytes, plaintext: bytes) -> bytes:
        """`plaintext` encrypted and authenticated, bound to `associated`."""
        nonce = os.urandom(_NONCE_BYTES)
        return _MAGIC + nonce + self._aead.encrypt(nonce, plaintext, associated)

    def open(self, associated: bytes, sealed: bytes) -> bytes:
        """The plaintext of `sealed`; OutboxKeyError unless this key sealed it for `associated`."""
        if len(sealed) < OVERHEAD or not sealed.startswith(_MAGIC):
            raise OutboxKeyError("not a sealed outbox blob (truncated or foreign file)")
        nonce = sealed[len(_MAGIC) : len(_MAGIC) + _NONCE_BYTES]
        try:
            return self._aead.decrypt(nonce, sealed[len(_MAGIC) + _NONCE_BYTES :], associated)
        except InvalidTag as exc:
            raise OutboxKeyError(
                "a sealed blob did not open: it was sealed with another outbox key or is damaged"
            ) from exc
