"""Database tables: devices (one token each), the captures they uploaded, and their text."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names, so Alembic migrations can refer to (and drop) them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Device(Base):
    """A device and its token. Only the token's SHA-256 is stored."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


class Capture(Base):
    """One stored image and what the agent said about it."""

    __tablename__ = "captures"
    __table_args__ = (
        UniqueConstraint("device_id", "id"),
        Index("ix_captures_captured_at_pk", "captured_at", "pk"),
    )

    # A surrogate key: the capture id is only unique per device, and the cursor needs a tiebreak.
    pk: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    id: Mapped[str] = mapped_column(String(36))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    captured_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    monitor: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    mime_type: Mapped[str] = mapped_column(String(32))
    byte_size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    app_name: Mapped[str | None] = mapped_column(String(512))
    window_title: Mapped[str | None] = mapped_column(String(2048))
    redacted_regions: Mapped[int] = mapped_column(Integer, default=0)
    agent_version: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(255), unique=True)
    # Set when start-up found the image file gone from storage; the row is kept (the volume may
    # come back) until `jarvis-server storage purge-missing` removes it on request.
    file_missing_since: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), default=None
    )

    device: Mapped[Device] = relationship(lazy="joined", innerjoin=True)


class WebSession(Base):
    """A signed-in browser of the timeline page. Only the cookie value's SHA-256 is stored; the
    session lasts while its device keeps the token it signed in with (not revoked, not replaced)
    and until `expires_at`."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class CaptureText(Base):
    """The words read from one capture's image, with their boxes; indexed for search.

    `text` is the words separated by spaces (lines by newlines); `boxes` holds one [x, y, w, h]
    in image pixels per word of `text.split()`. The full-text index is kept beside it: an FTS5
    table on SQLite (maintained by triggers on this table), a tsvector column on PostgreSQL
    (see migration 0004_search_text). `sort_key` orders hits newest first by captured_at
    (jarvis_server.searchkey); it is the FTS5 rowid. Deleting the capture deletes this row
    (ON DELETE CASCADE), and with it the index entry.
    """

    __tablename__ = "capture_text"
    __table_args__ = (Index("ix_capture_text_sort_key", "sort_key", unique=True),)

    capture_pk: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("captures.pk", ondelete="CASCADE"),
        primary_key=True,
    )
    text: Mapped[str] = mapped_column(Text)
    boxes: Mapped[str] = mapped_column(Text)  # JSON: [[x, y, w, h], ...]
    extracted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sort_key: Mapped[int] = mapped_column(BigInteger)


class TextQueue(Base):
    """A capture waiting for its text to be extracted (a durable work queue).

    A row is claimed by moving `next_attempt_at` past a lease; success deletes it in the same
    transaction that stores the text; failure counts an attempt and backs off; after the last
    attempt `failed_at` is set and the row is skipped (reported by /health/text).
    """

    __tablename__ = "text_queue"
    __table_args__ = (Index("ix_text_queue_due", "failed_at", "next_attempt_at"),)

    capture_pk: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("captures.pk", ondelete="CASCADE"),
        primary_key=True,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class RateBucket(Base):
    """A device's upload allowance, shared by every replica (used on PostgreSQL; see
    ratelimit.PostgresRateLimiter). Seconds since the epoch, from the database's clock."""

    __tablename__ = "rate_buckets"

    device_id: Mapped[int] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    tokens: Mapped[float] = mapped_column(Float)
    updated: Mapped[float] = mapped_column(Float)
    granted: Mapped[bool] = mapped_column(Boolean)


class ImageRemoval(Base):
    """The image of a deleted capture, until its object is gone from storage.

    Written in the transaction that deletes the capture's row, removed once the object is:
    a crash or a storage refusal in between leaves this row, and the image is removed at the
    next delete request or start (see removal.py), never kept in quarantine as an orphan.
    """

    __tablename__ = "image_removals"

    storage_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    deleted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
