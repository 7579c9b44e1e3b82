"""Reading a multipart upload as it arrives: the file part goes straight to a temporary file,
with the size limit enforced while streaming, so no upload is ever held whole in memory."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Final

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from jarvis_contract import ProblemType
from jarvis_server.problems import ProblemError
from jarvis_server.storage import PendingFile, Storage

MAX_METADATA_BYTES: Final = 64 * 1024
# Multipart framing and the metadata part ride on top of the file; allow for them in
# the early Content-Length check so only uploads that must be too large are refused unread.
_ENVELOPE_SLACK: Final = MAX_METADATA_BYTES + 16 * 1024


def max_request_bytes(max_upload_bytes: int) -> int:
    """The largest request body an upload of an image of `max_upload_bytes` can need."""
    return max_upload_bytes + _ENVELOPE_SLACK


# After refusing an upload, read (and drop) this much more so the client sees the reply
# instead of a reset connection; past it, the connection is simply closed.
_DRAIN_LIMIT: Final = 64 * 1024 * 1024


@dataclass
class ReceivedUpload:
    metadata: bytes | None = None
    file: PendingFile | None = None
    file_complete: bool = False

    async def discard(self) -> None:
        if self.file is not None:
            await self.file.discard()


@dataclass
class _Events:
    """Collects the parser's synchronous callbacks; the async side drains them after each write."""

    items: list[tuple[str, bytes]] = field(default_factory=list)
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)

    def on_part_begin(self) -> None:
        self.items.append(("begin", b""))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.items.append(("data", bytes(data[start:end])))

    def on_part_end(self) -> None:
        self.items.append(("end", b""))

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_field.lower() == b"content-disposition":
            self.items.append(("disposition", bytes(self.header_value)))
        self.header_field.clear()
        self.header_value.clear()


def _too_large(limit: int) -> ProblemError:
    return ProblemError(
        413,
        ProblemType.TOO_LARGE,
        "Upload too large",
        f"The image is larger than this server accepts ({limit} bytes); send a smaller image "
        "or raise JARVIS_MAX_UPLOAD_BYTES on the server.",
    )


def _bad_request(detail: str) -> ProblemError:
    return ProblemError(400, ProblemType.BAD_REQUEST, "Malformed upload", detail)


async def _drain(request: Request) -> None:
    drained = 0
    # RuntimeError: Starlette's "Stream consumed" when the whole body was already read.
    with contextlib.suppress(ClientDisconnect, RuntimeError):
        async for chunk in request.stream():
            drained += len(chunk)
            if drained > _DRAIN_LIMIT:
                break


async def receive_upload(request: Request, storage: Storage, max_bytes: int) -> ReceivedUpload:
    """Stream the request body into a ReceivedUpload; ProblemError (4xx) when it is unusable."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data":
        await _drain(request)
        raise ProblemError(
            415,
            ProblemType.UNSUPPORTED_MEDIA,
            "Not a multipart upload",
            "Send the capture as multipart/form-data with a `file` part and a `metadata` part.",
        )
    boundary = params.get(b"boundary")
    if not boundary:
        await _drain(request)
        raise _bad_request("The multipart Content-Type has no boundary parameter.")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes + _ENVELOPE_SLACK:
        await _drain(request)
        raise _too_large(max_bytes)

    events = _Events()
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": events.on_part_begin,
            "on_part_data": events.on_part_data,
            "on_part_end": events.on_part_end,
            "on_header_field": events.on_header_field,
            "on_header_value": events.on_header_value,
            "on_header_end": events.on_header_end,
        },
    )
    upload = ReceivedUpload()
    current: str | None = None  # "file", "metadata" or None for parts we skip
    metadata = bytearray()
    try:
        async for chunk in request.stream():
            try:
                parser.write(chunk)
            except MultipartParseError as exc:
                raise _bad_request(f"The multipart body is malformed ({exc}).") from exc
            for kind, data in events.items:
                if kind == "begin":
                    current = None
                elif kind == "disposition":
                    _, disposition = parse_options_header(data)
                    name = disposition.get(b"name", b"")
                    if name == b"file":
                        if upload.file is not None:
                            raise _bad_request("Send exactly one `file` part.")
                        upload.file = storage.begin()
                        current = "file"
                    elif name == b"metadata":
                        if upload.metadata is not None:
                            raise _bad_request("Send exactly one `metadata` part.")
                        current = "metadata"
                elif kind == "data":
                    if current == "file":
                        assert upload.file is not None
                        if upload.file.size + len(data) > max_bytes:
                            raise _too_large(max_bytes)
                        await upload.file.write(data)
                    elif current == "metadata":
                        metadata += data
                        if len(metadata) > MAX_METADATA_BYTES:
                            raise _bad_request(
                                f"The metadata part is larger than {MAX_METADATA_BYTES} bytes."
                            )
                elif kind == "end":
                    if current == "metadata":
                        upload.metadata = bytes(metadata)
                    elif current == "file":
                        upload.file_complete = True
                    current = None
            events.items.clear()
        try:
            parser.finalize()
        except MultipartParseError as exc:
            raise _bad_request(f"The multipart body is malformed ({exc}).") from exc
        if upload.file is not None and not upload.file_complete:
            raise _bad_request("The body ended before the `file` part was complete.")
    except ProblemError:
        await upload.discard()
        await _drain(request)
        raise
    except ClientDisconnect as exc:
        await upload.discard()
        # Nobody will read this answer; it only keeps the log free of a false "unexpected error".
        raise _bad_request("The client disconnected before the upload was complete.") from exc
    except BaseException:
        # The client went away or the task was cancelled: the partial file must not stay.
        await upload.discard()
        raise
    return upload
