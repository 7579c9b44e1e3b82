"""Who is calling, and a short memory of tokens recently verified for uploads.

An agent uploads every few seconds with the same token; looking it up in the database before
each body is read costs several round trips per capture. The cache spares them for a device whose
token was verified within the last `ttl` seconds. It never weakens revocation: the capture writer
checks the device again inside the transaction that stores the row, so a token revoked or replaced
a moment ago stores nothing. Unknown tokens are never cached: each is looked up every time.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

__all__ = ["AuthCache", "Caller"]

DEFAULT_TTL: Final = 30.0
DEFAULT_ENTRIES: Final = 4096


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated device: plain values, so no database session stays open for it."""

    device_id: int
    device: str
    admin: bool
    token_hash: str


class AuthCache:
    """Callers by token hash, each for `ttl` seconds, the least recently used dropped first."""

    def __init__(
        self,
        ttl: float = DEFAULT_TTL,
        max_entries: int = DEFAULT_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Caller]] = OrderedDict()

    def get(self, token_hash: str) -> Caller | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        verified_at, caller = entry
        if self._clock() - verified_at >= self._ttl:
            del self._entries[token_hash]
            return None
        self._entries.move_to_end(token_hash)
        return caller

    def put(self, caller: Caller) -> None:
        self._entries[caller.token_hash] = (self._clock(), caller)
        self._entries.move_to_end(caller.token_hash)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def forget(self, token_hash: str) -> None:
        self._entries.pop(token_hash, None)
