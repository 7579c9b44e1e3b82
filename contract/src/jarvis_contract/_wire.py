"""The wire contract between the agent and the Jarvis server.

One set of pydantic models, used by the uploader to build requests and by the server to validate
them and to shape its replies. Unknown fields are ignored so that an older server accepts the
metadata of a newer agent.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Annotated, Any, BinaryIO, Final, Literal, get_args
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

MimeType = Literal["image/jpeg", "image/webp", "image/png"]
MIME_TYPES: Final[tuple[str, ...]] = get_args(MimeType)
EXTENSIONS: Final[dict[str, str]] = {"image/jpeg": "jpg", "image/webp": "webp", "image/png": "png"}

API_PREFIX: Final = "/api/v1"
CAPTURES_PATH: Final = f"{API_PREFIX}/captures"
DELETE_RANGE_PATH: Final = f"{CAPTURES_PATH}/delete"
EVENTS_PATH: Final = f"{API_PREFIX}/events"
SEARCH_PATH: Final = f"{API_PREFIX}/search"
IDEMPOTENCY_HEADER: Final = "Idempotency-Key"
PROBLEM_MEDIA_TYPE: Final = "application/problem+json"
# The server answers here while its process runs (no token needed).
HEALTH_PATH: Final = "/health"
# A local server started by `jarvis up` proves it holds the user's identity key here.
IDENTITY_PATH: Final = f"{HEALTH_PATH}/identity"
IDENTITY_NONCE_PATTERN: Final = r"^[0-9a-f]{32,128}$"
# What `serve` logs before it migrates its database, which may take minutes (a search index
# rebuilt): `jarvis up` reads it in the server's log and waits past its usual start time.
MIGRATING_NOTICE: Final = "migrating the database"


IDENTITY_KEY_BYTES: Final = 32
"""Length of the identity key; its file holds it hex-encoded."""


def read_identity_key_text(handle: BinaryIO) -> bytes | None:
    """The key an identity key file holds (hex text), or None when it holds no whole key.

    The agent writes the file and the server reads it: both read it with this, so the format is
    defined once. Reads a bounded amount, whatever the file's size.
    """
    text = handle.read(4 * IDENTITY_KEY_BYTES).strip()
    try:
        key = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
    return key if len(key) >= IDENTITY_KEY_BYTES else None


def identity_proof(key: bytes, port: int, nonce: str) -> str:
    """HMAC-SHA256 of the client's nonce and the port the server answers on (hex).

    The port is in it so that a program on another port cannot relay the challenge to the real
    server and pass its answer off as its own.
    """
    message = f"jarvis-identity-v1\n{port}\n{nonce}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


# No capture can have been taken before the Unix epoch: a computer clock cannot be set earlier.
EARLIEST_CAPTURE: Final = datetime(1970, 1, 1, tzinfo=UTC)


def _representable_in_utc(value: datetime) -> datetime:
    # An offset can push an instant just inside year 1 or 9999 outside Python's (and the
    # storage's) range once it is converted to UTC; say so instead of failing later.
    try:
        value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{value.isoformat()} lies outside the years 1 to 9999 once converted to UTC"
        ) from None
    return value


def _plausible_capture_time(value: datetime) -> datetime:
    if _representable_in_utc(value).astimezone(UTC) < EARLIEST_CAPTURE:
        raise ValueError(
            f"{value.isoformat()} is before 1970-01-01T00:00:00Z; the capturing device's "
            "clock is wrong"
        )
    return value


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_representable_in_utc)]
"""An RFC 3339 date-time with an offset that still names an instant in years 1-9999 in UTC."""

CaptureTime = Annotated[AwareDatetime, AfterValidator(_plausible_capture_time)]
"""When a frame was grabbed: a UtcDatetime no earlier than the Unix epoch."""


class ProblemType:
    """Stable `type` URIs of the server's RFC 9457 problem documents."""

    BASE: Final = "https://jarvis.invalid/problems/"
    BAD_METADATA: Final = BASE + "bad-metadata"
    IDEMPOTENCY_MISMATCH: Final = BASE + "idempotency-key-mismatch"
    CONTENT_MISMATCH: Final = BASE + "content-mismatch"
    CONFLICT: Final = BASE + "capture-conflict"
    UNAUTHORIZED: Final = BASE + "unauthorized"
    REVOKED: Final = BASE + "device-revoked"
    FORBIDDEN: Final = BASE + "forbidden"
    TOO_LARGE: Final = BASE + "payload-too-large"
    UNSUPPORTED_MEDIA: Final = BASE + "unsupported-media-type"
    RATE_LIMITED: Final = BASE + "rate-limited"
    NOT_FOUND: Final = BASE + "not-found"
    VALIDATION: Final = BASE + "validation-error"
    INTERNAL: Final = BASE + "internal-error"
    UNAVAILABLE: Final = BASE + "service-unavailable"
    BAD_REQUEST: Final = BASE + "bad-request"
    METHOD_NOT_ALLOWED: Final = BASE + "method-not-allowed"
    BAD_QUERY: Final = BASE + "bad-query"


class CaptureMetadata(BaseModel):
    """The `metadata` part of an upload: what the agent says about the image it sends."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: UUID = Field(description="The capture id (UUIDv7), also sent as Idempotency-Key.")
    captured_at: CaptureTime = Field(
        description="When the frame was grabbed, RFC 3339; from 1970 to 9999 in UTC."
    )
    monitor: int = Field(ge=0, le=64, description="Index of the monitor the frame came from.")
    width: int = Field(gt=0, le=65535)
    height: int = Field(gt=0, le=65535)
    mime_type: MimeType
    byte_size: int = Field(gt=0, description="Length of the file part in bytes.")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="Hex SHA-256 of the file.")
    app_name: str | None = Field(default=None, max_length=512)
    window_title: str | None = Field(default=None, max_length=2048)
    redacted_regions: int = Field(default=0, ge=0, le=10_000)
    agent_version: str = Field(min_length=1, max_length=64)


class CaptureRecord(BaseModel):
    """A capture as the server stored it."""

    model_config = ConfigDict(from_attributes=True)

    id: UUID
    device: str
    captured_at: datetime
    received_at: datetime
    monitor: int
    width: int
    height: int
    mime_type: MimeType
    byte_size: int
    sha256: str
    app_name: str | None
    window_title: str | None
    redacted_regions: int
    agent_version: str
    image_missing_since: datetime | None = Field(
        default=None,
        description="When the server found this capture's image file gone from its storage "
        "(the record is kept until an operator purges it); null while the file is in place.",
    )


class CapturePage(BaseModel):
    """One page of captures, oldest first; pass `next_cursor` back to read on."""

    items: list[CaptureRecord]
    next_cursor: str | None = None


class DeleteRange(BaseModel):
    """Which captures POST /api/v1/captures/delete removes: one device's, captured in
    [since, until). Both ends are required, so no request deletes everything by omission."""

    model_config = ConfigDict(extra="forbid")

    device: str | None = Field(
        default=None,
        description="The device whose captures go; a device token may name only itself "
        "(and may leave it out), an admin token must name one.",
    )
    since: UtcDatetime = Field(description="Captured at or after (RFC 3339, with an offset).")
    until: UtcDatetime = Field(description="Captured before (RFC 3339, with an offset).")


class Deleted(BaseModel):
    """How many captures a delete removed (0 when there was nothing left to remove)."""

    deleted: int


class TextBox(BaseModel):
    """A matched word's box in the capture's image, in image pixels from the top-left."""

    x: int
    y: int
    w: int
    h: int


class SearchHit(BaseModel):
    """One capture whose text matched a search."""

    capture: CaptureRecord
    snippet: str = Field(description="Plain text around the first match (never HTML).")
    snippet_marks: list[tuple[int, int]] = Field(
        description="[start, end) offsets, in characters (code points), of the matched words "
        "in `snippet`, in order."
    )
    boxes: list[TextBox] = Field(description="The matched words' boxes in the image.")


class SearchPage(BaseModel):
    """One page of search hits, newest first; pass `next_cursor` back to read on."""

    items: list[SearchHit]
    next_cursor: str | None = None


class Problem(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


class IdentityProof(BaseModel):
    """The answer to an identity challenge: `identity_proof(key, port, nonce)`."""

    proof: str = Field(pattern=r"^[0-9a-f]{64}$")
