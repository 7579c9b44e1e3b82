"""The search order key: one integer per capture that sorts exactly as newest first does.

    key = captured_at in whole milliseconds since the epoch * 2**20 + (pk mod 2**20)

It is the FTS5 rowid on SQLite and a btree-indexed column on PostgreSQL, so "the n newest
matches" is a walk down one index that stops after n hits, however common the words are, rather
than every match joined and sorted. It derives from when a capture was *taken*, not when its row
was written, so a capture uploaded late (after days offline) sorts where it belongs. Captures in
the same millisecond are ordered by their row number's low bits; 2**20 values per millisecond
and 43 bits of milliseconds last until the year 2248 inside a signed 64-bit integer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

__all__ = ["KEY_SPAN_BITS", "key_after", "key_floor", "search_key", "within_millisecond"]

KEY_SPAN_BITS: Final = 20
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_LOWEST: Final = -(2**63)
_HIGHEST: Final = 2**63 - 1


def _millis(when: datetime) -> int:
    if when.tzinfo is None:  # SQLite hands back naive UTC
        when = when.replace(tzinfo=UTC)
    delta = when - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def search_key(captured_at: datetime, pk: int) -> int:
    """The key of the capture with row number `pk` taken at `captured_at`."""
    return (_millis(captured_at) << KEY_SPAN_BITS) | (pk & ((1 << KEY_SPAN_BITS) - 1))


def key_floor(when: datetime) -> int:
    """A key at or below that of every capture taken at `when` or later (for a range's start;
    clamped to 64 bits, so a far-off time is a bound, never an overflow)."""
    return max(_LOWEST, min(_HIGHEST, _millis(when) << KEY_SPAN_BITS))


def key_after(when: datetime) -> int:
    """The lowest key above that of every capture taken before `when` (for a range's end): on a
    whole millisecond, exactly the captures before it; inside one, that millisecond's too."""
    millis = _millis(when) + (1 if within_millisecond(when) else 0)
    return max(_LOWEST, min(_HIGHEST, millis << KEY_SPAN_BITS))


def within_millisecond(when: datetime) -> bool:
    """Whether `when` falls inside a millisecond: keys then bound a range only to that
    millisecond, and captured_at must be checked exactly."""
    return when.microsecond % 1000 != 0
