"""The retry policy: exponential backoff, full jitter, Retry-After as a floor, never giving up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jarvis_sync import MAX_RETRY_AFTER, RetryPolicy, parse_retry_after, set_testing


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


HUGE_OR_ODD = [
    "99999999999999999999",
    "9" * 5000,
    "1e30",
    "-1",
    "-99999999999999999999",
    "3600.5",
    "NaN",
    "inf",
    "²",
    "١٢٣",
    "0x10",
    "Fri, 31 Dec 9999 23:59:59 GMT",
    "Mon, 01 Jan 0001 00:00:00 GMT",
    "Wed, 21 Oct 2015 07:28:00 +9999",
    "Thu, 01 Jan 1970 00:00:00 GMT",
]


@pytest.mark.parametrize("value", HUGE_OR_ODD)
def test_retry_after_never_raises_and_never_asks_more_than_the_maximum(value: str) -> None:
    """Huge, negative, non-ASCII, fractional and far-future or far-past values: the parser
    never raises, and what it returns lies within [0, MAX_RETRY_AFTER] (an hour)."""
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    seconds = parse_retry_after(value, now=now)
    assert seconds is None or 0 <= seconds <= MAX_RETRY_AFTER == 3600


def test_a_huge_retry_after_is_cut_to_an_hour() -> None:
    """A server asking for years of quiet (in seconds or as a date) gets an hour at most."""
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("99999999999999999999", now=now) == MAX_RETRY_AFTER
    assert parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now=now) == MAX_RETRY_AFTER
    assert parse_retry_after("3601", now=now) == MAX_RETRY_AFTER
    assert parse_retry_after("0003600", now=now) == 3600
    assert RetryPolicy().delay(1, retry_after=1e30, draw=0.5) == MAX_RETRY_AFTER
    assert RetryPolicy().delay(1, retry_after=float("nan"), draw=0.0) == 0.0
    assert RetryPolicy(max_retry_after=2.0).delay(1, retry_after=1e30, draw=0.0) == 2.0


@given(value=st.text(max_size=60) | st.from_regex(r"\A[0-9]{1,400}\Z"))
def test_any_retry_after_header_is_safe(value: str) -> None:
    """Whatever a server (or a box in between) puts in Retry-After, the parser returns None or
    a wait within [0, MAX_RETRY_AFTER], and never raises."""
    seconds = parse_retry_after(value)
    assert seconds is None or 0 <= seconds <= MAX_RETRY_AFTER


@given(
    when=st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    )
)
def test_any_http_date_is_safe(when: datetime) -> None:
    """An HTTP date anywhere in years 1-9999 gives a wait within [0, MAX_RETRY_AFTER]."""
    seconds = parse_retry_after(format_datetime(when, usegmt=True))
    assert seconds is not None
    assert 0 <= seconds <= MAX_RETRY_AFTER
