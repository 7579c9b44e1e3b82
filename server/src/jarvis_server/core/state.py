"""What the running app holds: built in the lifespan, reached by requests through app.state."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from jarvis_server.core.config import Settings
from jarvis_server.events import Broadcaster
from jarvis_server.ratelimit import RateLimiter
from jarvis_server.storage import FilesystemStorage


@dataclass(slots=True)
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    storage: FilesystemStorage
    limiter: RateLimiter
    events: Broadcaster
    serialize_writes: bool = False
    _write_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """Hold while a write transaction runs. SQLite has one writer at a time, and a second
        connection that finds the database locked sleeps in its busy handler (milliseconds at a
        time); queueing writers here instead keeps upload latency low."""
        if not self.serialize_writes:
            yield
            return
        async with self._write_lock:
            yield
