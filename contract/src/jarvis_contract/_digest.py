"""Image bytes that carry their own SHA-256, so the digest is computed once per capture."""

from __future__ import annotations

import hashlib
from typing import Self


class DigestedBytes(bytes):
    """Image bytes that carry their SHA-256, computed once from themselves when made.

    Bytes are immutable, so the digest stays true: `Outbox.put` checks the metadata against it
    instead of hashing the image a second time (the capture pipeline has just hashed it for the
    metadata). Plain bytes are hashed by `put` as before.
    """

    _sha256: str

    def __new__(cls, data: bytes) -> Self:
        made = super().__new__(cls, data)
        made._sha256 = hashlib.sha256(made).hexdigest()
        return made

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of these bytes."""
        return self._sha256
