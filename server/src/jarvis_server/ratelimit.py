"""Per-device token buckets: a burst is allowed, then a steady rate. In memory for one
process (SQLite); in PostgreSQL when replicas share the database."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """Decides whether a device may upload now, and if not, how long it should wait."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}

    def acquire(self, device_id: int) -> float:
        """0 when the upload may go ahead (and is counted), else the seconds to wait."""
        now = self._clock()
        bucket = self._buckets.get(device_id)
        if bucket is None:
            bucket = self._buckets[device_id] = _Bucket(self.burst, now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate

    async def check(self, device_id: int) -> float:
        """`acquire`, awaitable like PostgresRateLimiter.check."""
        return self.acquire(device_id)

    @staticmethod
    def retry_after(wait: float) -> str:
        """The Retry-After header value: whole seconds, rounded up, at least 1."""
        return str(max(1, math.ceil(wait)))


# One statement, atomic under concurrency: refill by the time elapsed (the database's clock,
# the same for every replica), take one token if there is one, and say whether it was taken.
_TAKE = text(
    """
    INSERT INTO rate_buckets AS b (device_id, tokens, updated, granted)
    VALUES (:device, :burst - 1, EXTRACT(EPOCH FROM clock_timestamp()), true)
    ON CONFLICT (device_id) DO UPDATE SET
        tokens = LEAST(:burst, b.tokens
            + (EXTRACT(EPOCH FROM clock_timestamp()) - b.updated) * :rate)
            - CASE WHEN LEAST(:burst, b.tokens
                + (EXTRACT(EPOCH FROM clock_timestamp()) - b.updated) * :rate) >= 1
              THEN 1 ELSE 0 END,
        updated = EXTRACT(EPOCH FROM clock_timestamp()),
        granted = LEAST(:burst, b.tokens
            + (EXTRACT(EPOCH FROM clock_timestamp()) - b.updated) * :rate) >= 1
    RETURNING tokens, granted
    """
)


class PostgresRateLimiter:
    """The same buckets kept in PostgreSQL, so a device's rate holds across all replicas."""

    def __init__(self, engine: AsyncEngine, per_minute: float, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        # The statement is atomic on its own: in autocommit it is one round trip instead of
        # three (BEGIN, the statement, COMMIT), on every upload.
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def check(self, device_id: int) -> float:
        """0 when the upload may go ahead (and is counted), else the seconds to wait."""
        async with self._engine.connect() as conn:
            tokens, granted = (
                await conn.execute(
                    _TAKE, {"device": device_id, "burst": self.burst, "rate": self.rate}
                )
            ).one()
        return 0.0 if granted else (1.0 - float(tokens)) / self.rate


class Limiter(Protocol):
    async def check(self, device_id: int) -> float: ...
