"""/api/v1/captures: upload one capture, list them, read one and its image."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from functools import partial
from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from jarvis_contract import (
    CAPTURES_PATH,
    DELETE_RANGE_PATH,
    EXTENSIONS,
    IDEMPOTENCY_HEADER,
    CaptureMetadata,
    CapturePage,
    CaptureRecord,
    Deleted,
    DeleteRange,
    ProblemType,
    UtcDatetime,
)
from jarvis_server.api.deps import (
    CallerDep,
    SessionDep,
    StateDep,
    UploaderDep,
    revoked,
    unknown_token,
)
from jarvis_server.api.openapi_docs import UPLOAD_BODY, problems
from jarvis_server.api.upload import ReceivedUpload, receive_upload
from jarvis_server.auth import Caller
from jarvis_server.core.state import AppState
from jarvis_server.decodegate import WAITING_PER_DEVICE, DecodeBusy
from jarvis_server.imagecheck import ImageRefused, Refusal, verify_image
from jarvis_server.models import Capture, Device
from jarvis_server.problems import ProblemError
from jarvis_server.ratelimit import RateLimiter
from jarvis_server.records import to_record, utc
from jarvis_server.removal import delete_capture, delete_range
from jarvis_server.storage import PendingFile, StorageError, Verify
from jarvis_server.thumbnails import MAX_WIDTH, MIN_WIDTH, thumbnail
from jarvis_server.writer import Written

router = APIRouter(prefix=CAPTURES_PATH, tags=["captures"])
log = structlog.get_logger(__name__)


def _bad_metadata(detail: str, errors: list[dict[str, object]] | None = None) -> ProblemError:
    return ProblemError(400, ProblemType.BAD_METADATA, "Bad metadata", detail, errors=errors)


def _parse_metadata(raw: bytes | None) -> CaptureMetadata:
    if raw is None:
        raise _bad_metadata("Send the capture's metadata as JSON in a part named `metadata`.")
    try:
        return CaptureMetadata.model_validate_json(raw)
    except ValidationError as exc:
        # Only where and what, never the input: it may hold a window title.
        errors: list[dict[str, object]] = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
        where = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'metadata'}: {e['msg']}" for e in exc.errors()
        )
        raise _bad_metadata(f"Fix the metadata JSON: {where}", errors) from exc


def _conflict(capture_id: UUID) -> ProblemError:
    return ProblemError(
        422,
        ProblemType.CONFLICT,
        "Capture id already used",
        f"Capture {capture_id} is already stored with different content; a capture id must "
        "never be reused. Do not retry this upload.",
    )


async def _stored(session: AsyncSession, device_id: int, capture_id: UUID) -> Capture | None:
    return await session.scalar(
        select(Capture).where(Capture.device_id == device_id, Capture.id == str(capture_id))
    )


@router.post(
    "",
    status_code=201,
    summary="Upload one capture",
    response_description="Stored: the capture as the server keeps it",
    response_model=CaptureRecord,
    responses={
        200: {
            "description": "Replay: this capture was already stored with the same content",
            "model": CaptureRecord,
        },
        **problems(400, 401, 403, 408, 413, 415, 422, 429, 503),
    },
    openapi_extra=UPLOAD_BODY,
)
async def upload_capture(
    request: Request, response: Response, state: StateDep, caller: UploaderDep
) -> CaptureRecord:
    """Store an image and its metadata once; a replay of the same id and bytes answers 200."""
    wait = await state.limiter.check(caller.device_id)
    if wait > 0:
        raise ProblemError(
            429,
            ProblemType.RATE_LIMITED,
            "Too many uploads",
            f"Device {caller.device!r} is over its upload rate; retry after "
            f"{RateLimiter.retry_after(wait)} seconds.",
            headers={"Retry-After": RateLimiter.retry_after(wait)},
        )
    upload = await receive_upload(request, state.storage, state.settings.max_upload_bytes)
    try:
        return await _store(request, response, state, caller, upload)
    finally:
        await upload.discard()


async def _store(
    request: Request,
    response: Response,
    state: StateDep,
    caller: Caller,
    upload: ReceivedUpload,
) -> CaptureRecord:
    meta = _parse_metadata(upload.metadata)
    if upload.file is None:
        raise ProblemError(
            400,
            ProblemType.BAD_REQUEST,
            "Missing image",
            "Send the image bytes in a part named `file`.",
        )
    key_header = request.headers.get(IDEMPOTENCY_HEADER)
    if key_header is None:
        raise ProblemError(
            400,
            ProblemType.IDEMPOTENCY_MISMATCH,
            "Missing Idempotency-Key",
            f"Send the header '{IDEMPOTENCY_HEADER}: {meta.id}' (the capture id).",
        )
    try:
        key_matches = UUID(key_header.strip()) == meta.id
    except ValueError:
        key_matches = False
    if not key_matches:
        raise ProblemError(
            400,
            ProblemType.IDEMPOTENCY_MISMATCH,
            "Idempotency-Key does not match",
            f"The {IDEMPOTENCY_HEADER} header must equal metadata.id ({meta.id}).",
        )
    pending = upload.file
    if pending.size != meta.byte_size or pending.sha256 != meta.sha256:
        raise ProblemError(
            400,
            ProblemType.CONTENT_MISMATCH,
            "Content does not match metadata",
            f"Received {pending.size} bytes with sha256 {pending.sha256}, but the metadata says "
            f"{meta.byte_size} bytes with sha256 {meta.sha256}; the upload was damaged or the "
            "metadata is wrong. Retry with the same file.",
        )

    # The file goes first, the row second: a crash in between leaves a file without a row, which
    # a later start moves to quarantine (the agent still holds the capture and sends it again).
    verify = partial(
        verify_image,
        declared=meta.mime_type,
        max_pixels=state.settings.max_image_pixels,
        size=(meta.width, meta.height),
    )
    try:
        if meta.mime_type == "image/jpeg":  # walked, never decoded: no turn needed
            storage_key = await _place(state, pending, meta, verify)
        else:
            async with state.decodes.turn(caller.device_id):
                storage_key = await _place(state, pending, meta, verify)
    except DecodeBusy:
        raise ProblemError(
            429,
            ProblemType.RATE_LIMITED,
            "Too many uploads at once",
            f"Device {caller.device!r} already has {WAITING_PER_DEVICE} uploads waiting to be "
            "checked; send fewer at once and retry after 1 second.",
            headers={"Retry-After": "1"},
        ) from None
    except ImageRefused as exc:
        raise _image_problem(exc) from None
    except StorageError as exc:
        log.warning("storage refused an upload", error=str(exc))
        raise _storage_down() from exc
    capture = Capture(
        id=str(meta.id),
        device_id=caller.device_id,
        captured_at=meta.captured_at.astimezone(UTC),
        received_at=datetime.now(UTC),
        monitor=meta.monitor,
        width=meta.width,
        height=meta.height,
        mime_type=meta.mime_type,
        byte_size=meta.byte_size,
        sha256=meta.sha256,
        app_name=meta.app_name,
        window_title=meta.window_title,
        redacted_regions=meta.redacted_regions,
        agent_version=meta.agent_version,
        storage_key=storage_key,
    )
    try:
        written = await state.writer.insert(_row(capture), caller.token_hash)
    except BaseException:
        await _forget_object(state, storage_key)
        raise
    if written in (Written.REVOKED, Written.UNKNOWN_TOKEN):
        # Revoked or replaced since this token was last verified: nothing of it is kept.
        await _forget_object(state, storage_key)
        state.auth_cache.forget(caller.token_hash)
        state.events.end_tokens({caller.token_hash})
        raise revoked(caller.device) if written is Written.REVOKED else unknown_token()
    if written is Written.EXISTS:
        # This device already stored this capture id: a replay (same bytes) or a conflict.
        await _forget_object(state, storage_key)
        async with state.sessions() as session:
            existing = await _stored(session, caller.device_id, meta.id)
        if existing is None:  # removed in between; the agent's retry will store it
            raise ProblemError(
                503,
                ProblemType.UNAVAILABLE,
                "Try again",
                "The capture could not be stored because of a concurrent change; retry.",
                headers={"Retry-After": "1"},
            )
        return _replay(response, existing, meta)
    record = to_record(capture, caller.device)
    if state.text_worker is not None:
        state.text_worker.wake()
    response.headers["Location"] = f"{CAPTURES_PATH}/{record.id}"
    if state.engine.dialect.name != "postgresql":  # there, every replica hears it (pgevents)
        state.events.publish(record)
    log.info(
        "capture stored",
        capture_id=record.id.hex,
        device=record.device,
        bytes=record.byte_size,
    )
    return record


def _storage_down() -> ProblemError:
    return ProblemError(
        503,
        ProblemType.UNAVAILABLE,
        "Storage unavailable",
        "The image store does not answer; nothing was kept. Retry later.",
        headers={"Retry-After": "5"},
    )


async def _forget_object(state: AppState, key: str) -> None:
    """Remove a stored object no row will list. If the store is down it stays, without a row,
    and a later start quarantines it: the answer to the client does not depend on it."""
    try:
        await state.storage.delete(key)
    except StorageError as exc:
        log.warning("could not remove an object without a row", key=key, error=str(exc))


async def _place(
    state: AppState, pending: PendingFile, meta: CaptureMetadata, verify: Verify
) -> str:
    return await state.storage.place(
        pending, str(meta.id), EXTENSIONS[meta.mime_type], meta.captured_at, verify=verify
    )


def _image_problem(exc: ImageRefused) -> ProblemError:
    if exc.refusal is Refusal.SIZE_MISMATCH:
        return _bad_metadata(f"Fix width and height: {exc.problem}.")
    if exc.refusal is Refusal.TOO_MANY_PIXELS:
        return ProblemError(
            413,
            ProblemType.TOO_LARGE,
            "Image has too many pixels",
            f"Refused: {exc.problem}. Send a smaller image or raise JARVIS_MAX_IMAGE_PIXELS "
            "on the server.",
        )
    return ProblemError(
        415,
        ProblemType.UNSUPPORTED_MEDIA,
        "Not the declared image",
        f"Refused: {exc.problem}. Send one whole JPEG, PNG or WebP image matching mime_type, "
        "with nothing after it.",
    )


def _row(capture: Capture) -> dict[str, Any]:
    return {c.key: getattr(capture, c.key) for c in Capture.__table__.columns if c.key != "pk"}


def _replay(response: Response, existing: Capture, meta: CaptureMetadata) -> CaptureRecord:
    if existing.sha256 != meta.sha256:
        raise _conflict(meta.id)
    response.status_code = 200
    response.headers["Location"] = f"{CAPTURES_PATH}/{existing.id}"
    return to_record(existing)


def _encode_cursor(capture: Capture) -> str:
    raw = f"{utc(capture.captured_at).isoformat()}|{capture.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# The row number is a 64-bit signed integer on every backend; a larger one was never handed out
# and would overflow the database driver.
_MAX_PK = 2**63 - 1


def _bad_cursor(why: str) -> ProblemError:
    return ProblemError(
        400,
        ProblemType.VALIDATION,
        "Bad cursor",
        f"The cursor is not one this server handed out ({why}); start again without it.",
    )


def _decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, pk = raw.split("|")
        after = datetime.fromisoformat(when)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _bad_cursor("it does not decode to a time and a row number") from None
    if after.tzinfo is None:
        raise _bad_cursor("its time has no offset")
    try:
        after = after.astimezone(UTC)
    except OverflowError:
        raise _bad_cursor("its time lies outside the years 1 to 9999 in UTC") from None
    if not (pk.isascii() and pk.isdigit()) or int(pk) > _MAX_PK:
        raise _bad_cursor("its row number is not one of this server's")
    return after, int(pk)


def _visible_to(caller: Caller, device: str | None) -> None:
    if device is not None and not caller.admin and device != caller.device:
        raise ProblemError(
            403,
            ProblemType.FORBIDDEN,
            "Not your device",
            "A device token reads only its own captures; use an admin token for others.",
        )


@router.get(
    "",
    summary="List captures, oldest first",
    response_model=CapturePage,
    responses=problems(400, 401, 403, 503),
)
async def list_captures(
    state: StateDep,
    session: SessionDep,
    caller: CallerDep,
    device: Annotated[str | None, Query(description="Only this device's captures.")] = None,
    since: Annotated[
        UtcDatetime | None, Query(description="Captured at or after (RFC 3339).")
    ] = None,
    until: Annotated[UtcDatetime | None, Query(description="Captured before (RFC 3339).")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> CapturePage:
    """Captures the caller may read: its own, or with an admin token everyone's."""
    _visible_to(caller, device)
    query = select(Capture)
    if not caller.admin:
        query = query.where(Capture.device_id == caller.device_id)
    elif device is not None:
        query = query.where(
            Capture.device_id == select(Device.id).where(Device.name == device).scalar_subquery()
        )
    if since is not None:
        query = query.where(Capture.captured_at >= since.astimezone(UTC))
    if until is not None:
        query = query.where(Capture.captured_at < until.astimezone(UTC))
    if cursor is not None:
        after, pk = _decode_cursor(cursor)
        query = query.where(
            or_(
                Capture.captured_at > after,
                and_(Capture.captured_at == after, Capture.pk > pk),
            )
        )
    rows = list(
        await session.scalars(query.order_by(Capture.captured_at, Capture.pk).limit(limit + 1))
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return CapturePage(
        items=[to_record(r) for r in rows],
        next_cursor=_encode_cursor(rows[-1]) if more else None,
    )


def _no_such_capture(capture_id: UUID) -> ProblemError:
    # Another device's capture looks exactly like a missing one: nothing leaks.
    return ProblemError(
        404,
        ProblemType.NOT_FOUND,
        "No such capture",
        f"No capture {capture_id} that this token may read.",
    )


async def _find(session: AsyncSession, caller: Caller, capture_id: UUID) -> Capture:
    query = select(Capture).where(Capture.id == str(capture_id))
    if not caller.admin:
        query = query.where(Capture.device_id == caller.device_id)
    capture = await session.scalar(query.order_by(Capture.pk).limit(1))
    if capture is None:
        raise _no_such_capture(capture_id)
    return capture


@router.get(
    "/{capture_id}",
    summary="One capture's record",
    response_model=CaptureRecord,
    responses=problems(400, 401, 403, 404, 503),
)
async def get_capture(session: SessionDep, caller: CallerDep, capture_id: UUID) -> CaptureRecord:
    return to_record(await _find(session, caller, capture_id))


@router.get(
    "/{capture_id}/image",
    summary="One capture's image bytes",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The image, as uploaded",
            "content": {
                "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
                "image/png": {"schema": {"type": "string", "format": "binary"}},
                "image/webp": {"schema": {"type": "string", "format": "binary"}},
            },
        },
        **problems(400, 401, 403, 404, 503),
    },
)
async def get_image(
    state: StateDep, session: SessionDep, caller: CallerDep, capture_id: UUID
) -> StreamingResponse:
    capture = await _find(session, caller, capture_id)
    await _require_file(state, capture, capture_id)
    return StreamingResponse(
        state.storage.read(capture.storage_key),
        media_type=capture.mime_type,
        headers={
            "Content-Length": str(capture.byte_size),
            "ETag": f'"{capture.sha256}"',
            "Cache-Control": "private, max-age=31536000, immutable",
        },
    )


async def _require_file(state: AppState, capture: Capture, capture_id: UUID) -> None:
    try:
        present = await state.storage.exists(capture.storage_key)
    except StorageError as exc:
        raise _storage_down() from exc
    if not present:
        raise ProblemError(
            404,
            ProblemType.NOT_FOUND,
            "Image file missing",
            f"Capture {capture_id} is recorded but its image file is gone from storage; the "
            "record is kept. The server's operator can see why with `jarvis-server storage "
            "check` (an unmounted volume?).",
        )


@router.get(
    "/{capture_id}/thumbnail",
    summary="A small JPEG preview of one capture",
    response_class=Response,
    responses={
        200: {
            "description": "The preview, made on request (nothing is cached on the server)",
            "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
        },
        **problems(400, 401, 403, 404, 503),
    },
)
async def get_thumbnail(
    state: StateDep,
    session: SessionDep,
    caller: CallerDep,
    capture_id: UUID,
    width: Annotated[int, Query(ge=MIN_WIDTH, le=MAX_WIDTH, description="Pixels wide.")] = 320,
) -> Response:
    capture = await _find(session, caller, capture_id)
    await _require_file(state, capture, capture_id)
    data = b"".join([chunk async for chunk in state.storage.read(capture.storage_key)])
    return Response(
        await thumbnail(data, min(width, capture.width)),
        media_type="image/jpeg",
        headers={
            "ETag": f'"{capture.sha256}-{width}"',
            "Cache-Control": "private, max-age=31536000, immutable",
        },
    )


@router.delete(
    "/{capture_id}",
    summary="Delete one capture: its record, image file and extracted text",
    response_model=Deleted,
    responses=problems(400, 401, 403, 404, 503),
)
async def delete_one(state: StateDep, caller: CallerDep, capture_id: UUID) -> Deleted:
    """A device deletes only its own captures; another's id is 404, as a missing one is (so a
    repeated delete answers 404 too, having changed nothing)."""
    deleted = await delete_capture(
        state.sessions,
        state.storage,
        capture_id=str(capture_id),
        device_id=None if caller.admin else caller.device_id,
    )
    if not deleted:
        raise _no_such_capture(capture_id)
    log.info("capture deleted", capture_id=capture_id.hex, by=caller.device)
    return Deleted(deleted=deleted)


@router.post(
    DELETE_RANGE_PATH.removeprefix(CAPTURES_PATH),
    summary="Delete one device's captures taken in a time range",
    response_model=Deleted,
    responses=problems(400, 401, 403, 503),
)
async def delete_many(
    state: StateDep, caller: CallerDep, body: Annotated[DeleteRange, Body()]
) -> Deleted:
    """Everything of the device captured in [since, until): records, files and text. Answers
    how many went (0 when nothing is left in the range: repeating it is harmless)."""
    _visible_to(caller, body.device)
    if body.since >= body.until:
        raise ProblemError(
            400,
            ProblemType.VALIDATION,
            "Empty time range",
            "`since` must be earlier than `until`.",
        )
    if caller.admin:
        if body.device is None:
            raise ProblemError(
                400,
                ProblemType.VALIDATION,
                "Which device?",
                "An admin token must name the `device` whose captures to delete.",
            )
        async with state.sessions() as session:
            device_id = await session.scalar(select(Device.id).where(Device.name == body.device))
        if device_id is None:
            return Deleted(deleted=0)
    else:
        device_id = caller.device_id
    deleted = await delete_range(
        state.sessions,
        state.storage,
        device_id=device_id,
        since=body.since.astimezone(UTC),
        until=body.until.astimezone(UTC),
    )
    log.info("captures deleted in a range", captures=deleted, by=caller.device)
    return Deleted(deleted=deleted)
