"""When to try again: exponential backoff with full jitter, honouring Retry-After; never gives up.

Pure functions of their inputs (attempt number, header value, clock reading, random draw), so the
policy is tested without sleeping. `set_testing` (as in hynek/stamina) shrinks every wait for test
suites that exercise retry paths against a real server without sitting through real backoff.
"""

from __future__ import annotations

import math
import random
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

DEFAULT_BASE: Final = 1.0
DEFAULT_CAP: Final = 300.0
# The longest wait a server's Retry-After may impose. A server that asks for more (a year, 1e20 s,
# a date in the wrong century) is misconfigured or hostile rather than meaning it, and obeying
# would stop syncing for good without a word; an hour is longer than any real rate-limit window
# or maintenance reply, and a server that still wants quiet simply answers 429 again.
MAX_RETRY_AFTER: Final = 3600.0
_DELAY_SECONDS = re.compile(r"[0-9]+")  # RFC 9110: 1*DIGIT, ASCII only (not "²" or "١٢٣")

_testing_lock = threading.Lock()
_testing_cap: float | None = None


def set_testing(enabled: bool, *, cap: float = 0.0) -> None:
    """Test mode: every computed wait (backoff and Retry-After) is clipped to `cap` seconds."""
    global _testing_cap
    with _testing_lock:
        _testing_cap = cap if enabled else None


def is_testing() -> bool:
    """Whether test mode is on."""
    return _testing_cap is not None


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter: wait uniform(0, min(cap, base * 2**(attempt-1)))."""

    base: float = DEFAULT_BASE
    cap: float = DEFAULT_CAP
    max_retry_after: float = MAX_RETRY_AFTER  # the longest wait a server's Retry-After imposes

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base:
            raise ValueError(
                f"retry policy needs 0 < base <= cap, got base={self.base}, cap={self.cap}"
            )
        if not 0 < self.max_retry_after <= MAX_RETRY_AFTER:
            raise ValueError(
                f"retry policy needs 0 < max_retry_after <= {MAX_RETRY_AFTER:g}, "
                f"got {self.max_retry_after}"
            )

    def ceiling(self, attempt: int) -> float:
        """The largest backoff for the `attempt`-th failure in a row (1-based)."""
        exponent = min(max(attempt, 1) - 1, 64)  # 2**64 s is far past any cap; avoids overflow
        return min(self.cap, self.base * 2.0**exponent)

    def delay(
        self,
        attempt: int,
        *,
        retry_after: float | None = None,
        draw: float | None = None,
    ) -> float:
        """Seconds to wait after the `attempt`-th failure in a row.

        `draw` in [0, 1) is the jitter (random by default); `retry_after` (seconds, from the
        server) is a floor: the wait is the larger of it and the backoff, and it is kept within
        [0, max_retry_after] whatever the server sent.
        """
        jitter = random.random() if draw is None else draw  # noqa: S311 - jitter, not crypto
        wait = self.ceiling(attempt) * jitter
        if retry_after is not None:
            wait = max(wait, min(clamp_retry_after(retry_after), self.max_retry_after))
        cap = _testing_cap
        return wait if cap is None else min(wait, cap)


def clamp_retry_after(seconds: float) -> float:
    """`seconds` within [0, MAX_RETRY_AFTER]; NaN counts as 0 (no wait asked for)."""
    if math.isnan(seconds):
        return 0.0
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds a Retry-After header asks for (delay-seconds or HTTP-date); None if absent or bad.

    The result is within [0, MAX_RETRY_AFTER]: a date in the past means "now" (0), a longer wait
    is cut to the maximum. A malformed value (negative, a fraction, not ASCII digits, not a date)
    is ignored rather than trusted, and the usual backoff applies. Never raises.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if _DELAY_SECONDS.fullmatch(text):
        # Compared as text first: int("9" * 5000) raises, float(int(...)) can overflow.
        if len(text.lstrip("0")) > len(str(int(MAX_RETRY_AFTER))):
            return MAX_RETRY_AFTER
        return clamp_retry_after(float(int(text)))
    try:
        when = parsedate_to_datetime(text)
        if when.tzinfo is None:  # RFC 9110 dates are GMT
            when = when.replace(tzinfo=UTC)
        current = now if now is not None else datetime.now(UTC)
        return clamp_retry_after((when - current).total_seconds())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
