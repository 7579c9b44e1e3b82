"""The per-device token bucket, driven by a fake clock."""

from __future__ import annotations

from jarvis_server.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_steady_rate() -> None:
    """A device may send `burst` uploads at once, then one per 60/rate seconds."""
    clock = Clock()
    limiter = RateLimiter(per_minute=60, burst=3, clock=clock)
    assert [limiter.acquire(1) for _ in range(3)] == [0, 0, 0]
    wait = limiter.acquire(1)
    assert wait == 1.0
    clock.now += 1.0
    assert limiter.acquire(1) == 0


def test_devices_have_separate_buckets() -> None:
    """One device using up its burst does not limit another."""
    limiter = RateLimiter(per_minute=60, burst=1, clock=Clock())
    assert limiter.acquire(1) == 0
    assert limiter.acquire(1) > 0
    assert limiter.acquire(2) == 0


def test_retry_after_is_whole_seconds_rounded_up() -> None:
    """Retry-After is an integer of at least 1 that never undershoots the wait."""
    assert RateLimiter.retry_after(0.01) == "1"
    assert RateLimiter.retry_after(1.2) == "2"
    assert RateLimiter.retry_after(3.0) == "3"
