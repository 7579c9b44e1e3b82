"""What the running app holds: built in the lifespan, reached by requests through app.state."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from jarvis_server.auth import AuthCache
from jarvis_server.core.config import Settings
from jarvis_server.decodegate import DecodeGate
from jarvis_server.events import Broadcaster
from jarvis_server.ratelimit import Limiter
from jarvis_server.storage import Storage
from jarvis_server.textqueue import TextWorker
from jarvis_server.writer import CaptureWriter


@dataclass(slots=True)
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    storage: Storage
    limiter: Limiter
    events: Broadcaster
    # One writer at a time, batching rows into one commit. On SQLite this also means no second
    # connection ever finds the database locked and sleeps in its busy handler.
    writer: CaptureWriter
    auth_cache: AuthCache
    # Reads the words of stored captures in the background; None when JARVIS_TEXT_EXTRACTION
    # is off (captures still queue up for later).
    text_worker: TextWorker | None = None
    # Turns at checking PNG and WebP images, bounded by the settings (see decodegate).
    decodes: DecodeGate = field(init=False)

    def __post_init__(self) -> None:
        self.decodes = DecodeGate(self.settings.decode_concurrency)
