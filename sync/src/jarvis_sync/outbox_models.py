"""What the outbox reports: frozen, slotted records for the UI, the CLI and the sync worker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from jarvis_contract import CaptureMetadata

EntryState = Literal["pending", "in_flight", "dead"]
RecentState = Literal["queued", "sent", "dead"]
WhenFull = Literal["evict_oldest", "reject_newest"]


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """Counts and sizes of the outbox; `*_total` counters survive restarts."""

    pending: int
    in_flight: int
    dead: int
    queued_bytes: int  # sealed blobs of pending, in-flight and dead captures
    total_bytes: int  # everything counted against the cap: blobs, database, WAL, temp files
    max_bytes: int
    evicted_total: int
    quarantined_total: int
    sent_total: int
    dead_total: int
    oldest_captured_at: datetime | None

    @property
    def queued(self) -> int:
        """Captures waiting to be sent (pending and in flight)."""
        return self.pending + self.in_flight


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One capture in the outbox, as the sync worker and `jarvis outbox list` see it."""

    id: UUID
    metadata: CaptureMetadata
    state: EntryState
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    blob_bytes: int
    enqueued_at: datetime


@dataclass(frozen=True, slots=True)
class RecentCapture:
    """A recent capture for the tray's "Recent captures" window; thumbnail decrypted in memory."""

    metadata: CaptureMetadata
    state: RecentState
    last_error: str | None
    thumbnail: bytes | None
    at: datetime  # when it was queued, or when the server took it
