"""Sealing blobs at rest (AES-256-GCM, capture id bound as associated data)."""

from __future__ import annotations

import pytest

from jarvis_sync import BlobCipher, OutboxKeyError
from jarvis_sync.cipher import new_key


def test_sealed_blob_opens_with_its_key_and_id_only() -> None:
    """A sealed blob reads back with the same key and id; another key or id is refused."""
    cipher = BlobCipher(new_key())
    sealed = cipher.seal(b"blob:1", b"pixels")
    assert b"pixels" not in sealed
    assert cipher.open(b"blob:1", sealed) == b"pixels"
    with pytest.raises(OutboxKeyError, match="another outbox key"):
        cipher.open(b"blob:2", sealed)
    with pytest.raises(OutboxKeyError, match="another outbox key"):
        BlobCipher(new_key()).open(b"blob:1", sealed)


def test_truncated_or_foreign_file_is_refused_clearly() -> None:
    """A truncated file or one that was never sealed gives a message saying so."""
    cipher = BlobCipher(new_key())
    sealed = cipher.seal(b"a", b"x" * 100)
    with pytest.raises(OutboxKeyError, match="truncated or foreign"):
        cipher.open(b"a", sealed[:10])
    with pytest.raises(OutboxKeyError, match="truncated or foreign"):
        cipher.open(b"a", b"\x89PNG" + b"\0" * 64)
    with pytest.raises(OutboxKeyError):
        cipher.open(b"a", sealed[:-1])


def test_key_of_wrong_length_is_refused() -> None:
    """Only a 32-byte key is accepted, and the message says how long it must be."""
    with pytest.raises(ValueError, match="32 bytes"):
        BlobCipher(b"short")
