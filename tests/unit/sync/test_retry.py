"""The retry policy: exponential backoff, full jitter, Retry-After as a floor, never giving up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jarvis_sync import RetryPolicy, parse_retry_after, set_testing


def test_backoff_doubles_from_one_second_up_to_five_minutes() -> None:
    """The largest wait doubles per failure from 1 s and stays at 5 min, however long it fails."""
    policy = RetryPolicy()
    assert [policy.ceiling(n) for n in range(1, 6)] == [1, 2, 4, 8, 16]
    assert policy.ceiling(9) == 256
    assert policy.ceiling(10) == 300
    assert policy.ceiling(10_000) == 300


@given(attempt=st.integers(min_value=1, max_value=10**6), draw=st.floats(0, 1, exclude_max=True))
def test_full_jitter_stays_within_zero_and_the_ceiling(attempt: int, draw: float) -> None:
    """Every wait lies in [0, ceiling): full jitter spreads clients out after an outage."""
    policy = RetryPolicy()
    assert 0 <= policy.delay(attempt, draw=draw) < policy.ceiling(attempt)


def test_retry_after_is_a_floor_over_the_backoff() -> None:
    """A server's Retry-After is honoured: the wait is the larger of it and the backoff."""
    policy = RetryPolicy()
    assert policy.delay(1, retry_after=120, draw=0.5) == 120
    assert policy.delay(12, retry_after=3, draw=0.5) == 150


def test_retry_after_in_seconds_and_as_http_date() -> None:
    """Retry-After is read as delay-seconds and as an HTTP date; bad or past values are safe."""
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now=now) == 120
    assert (
        parse_retry_after(format_datetime(now + timedelta(seconds=90), usegmt=True), now=now) == 90
    )
    assert parse_retry_after("Wed, 01 Jan 2025 00:00:00 GMT", now=now) == 0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after("-5", now=now) is None
    assert parse_retry_after("", now=now) is None
    assert parse_retry_after(None, now=now) is None


def test_testing_mode_clips_every_wait() -> None:
    """In test mode retry paths run without sleeping through real backoff or Retry-After."""
    policy = RetryPolicy()
    set_testing(True, cap=0.01)
    try:
        assert policy.delay(30, retry_after=3600, draw=0.9) == 0.01
    finally:
        set_testing(False)
    assert policy.delay(30, retry_after=3600, draw=0.9) == 3600


def test_nonsense_policy_is_refused() -> None:
    """A policy whose cap is below its base, or whose base is not positive, is refused clearly."""
    with pytest.raises(ValueError, match="base <= cap"):
        RetryPolicy(base=10, cap=1)
    with pytest.raises(ValueError, match="0 < base"):
        RetryPolicy(base=0)
