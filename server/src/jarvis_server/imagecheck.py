"""Is this file really the image the agent declared? Magic bytes, the size in the header, then
the whole structure, with nothing after the image's end.

The size is read from the header before any pixel is decoded, so an image larger than the
server's pixel budget (or than the metadata says) costs nothing but the header read. Then:

- JPEG is checked structurally: every segment is walked up to the first scan, then the rest of
  the file marker by marker to its end-of-image marker. The entropy-coded data itself is not
  Huffman-decoded: that took 1.7 ms of CPU for a 150 KB capture even at 1/8 scale, 40 % of
  everything the server spent on an upload, and a body whose sha256 the agent vouched for cannot
  have been damaged on the way.
- PNG is checked chunk by chunk (CRCs, order, IEND last) and its image data inflated in bounded
  pieces, counting the bytes and checking each row's filter type, so memory stays at about a
  megabyte whatever the pixel count: Pillow would hold the whole bitmap (4 bytes per pixel).
- WebP's RIFF chunks must fill the file exactly; then libwebp (through Pillow) decodes it whole,
  at about 15 bytes a pixel, which the pixel budget bounds. That memory goes back to the system
  after a burst without help (libwebp's buffers are single large allocations, so glibc maps and
  unmaps them): benchmarks/decode_flood.py measured the same RSS after six 8K WebPs with and
  without a malloc_trim after each decode.

Bytes after the image's end (a JPEG after EOI, a PNG after IEND, a WebP beyond its RIFF size)
are refused: such a file is a polyglot, an image that carries something else.
"""

from __future__ import annotations

import enum
import io
import mmap
import os
import re
import struct
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Final

from jarvis_server.errors import JarvisServerError
from jarvis_server.storage import RejectedFile

# Wider or taller than this is no screen (and more than the wire contract allows).
MAX_SIDE: Final = 65535

# In scan data 0xFF is followed by 0x00 (a stuffed byte), a restart marker (D0-D7) or more 0xFF
# (fill); anything else is the next marker. (No `\xff+`: that form is 15x slower in `re`.)
_MARKER: Final = re.compile(rb"\xff([\x01-\xcf\xd8-\xfe])")
# Between segments: the next marker, after optional 0xFF fill bytes.
_SEGMENT: Final = re.compile(rb"\xff+([\x01-\xfe])")
_EOI: Final = 0xD9
_SOS: Final = 0xDA
# Markers that carry a two-byte length after them (T.81 table B.1); others are refused.
_WITH_LENGTH: Final = frozenset(
    [*range(0xC0, 0xC8), *range(0xC9, 0xD0), *range(0xDA, 0xE0), *range(0xE0, 0xF0), 0xFE]
)
# Start-of-frame markers (all but DHT C4, JPG C8 and DAC CC): they hold the image's size.
_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}

_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
# Colour type -> (channels, allowed bit depths), PNG spec table 11.1.
_PNG_COLOURS: Final = {
    0: (1, (1, 2, 4, 8, 16)),
    2: (3, (8, 16)),
    3: (1, (1, 2, 4, 8)),
    4: (2, (8, 16)),
    6: (4, (8, 16)),
}
# Adam7 passes: first column, first row, column step, row step.
_ADAM7: Final = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4))
_ADAM7_ALL: Final = (*_ADAM7, (1, 0, 2, 2), (0, 1, 1, 2))
_PIL_FORMATS: Final = {"image/jpeg": "JPEG", "image/webp": "WEBP"}
_INFLATE_PIECE: Final = 1024 * 1024  # the most inflated PNG data held at once


class Refusal(enum.Enum):
    """Why an upload's image was refused; the API maps each to its status."""

    NOT_DECLARED_IMAGE = "not-declared-image"  # 415: not a whole image of the declared type
    TOO_MANY_PIXELS = "too-many-pixels"  # 413: over the server's pixel budget
    SIZE_MISMATCH = "size-mismatch"  # 400: the metadata's width and height are not the image's


class ImageRefused(RejectedFile):
    """The upload is not an image this server keeps; `refusal` says which rule it broke."""

    def __init__(self, refusal: Refusal, problem: str) -> None:
        super().__init__(problem)
        self.refusal = refusal


def sniff(head: bytes) -> str | None:
    """The image type the first bytes announce, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(_PNG_SIGNATURE):
        return "image/png"
    if len(head) >= 12 and head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


class _Bad(JarvisServerError):
    """Internal: the structure is broken; the message says how."""


# --- JPEG -----------------------------------------------------------------------------------


def _jpeg_size(data: bytes | mmap.mmap) -> tuple[int, int]:
    """Width and height from the first start-of-frame, walking the header segments by length."""
    position = 2
    while True:
        found = _SEGMENT.match(data, position)
        if found is None:
            raise _Bad("a segment does not start where the previous one ends")
        marker = found.group(1)[0]
        if marker not in _WITH_LENGTH or marker == _SOS:
            raise _Bad("it has no frame header before its image data")
        segment = found.end()
        if segment + 2 > len(data):
            raise _Bad("it ends inside a segment (truncated)")
        (length,) = struct.unpack_from(">H", data, segment)
        if length < 2 or segment + length > len(data):
            raise _Bad("a segment runs past the end of the file (truncated)")
        if marker in _SOF:
            if length < 8:
                raise _Bad("its frame header is too short")
            height, width = struct.unpack_from(">HH", data, segment + 3)
            return width, height
        position = segment + length


def _check_jpeg(data: bytes | mmap.mmap) -> None:
    """Walk the segments from SOI to EOI by their lengths; EOI must be the file's last bytes.

    Before the first scan each segment must start where the previous one ends (so an embedded
    EXIF thumbnail, with its own scan and EOI, is skipped whole, never mistaken for the image);
    from the first scan on, the next marker is searched past the entropy-coded data.
    """
    position, scanning = 2, False
    while True:
        found = (_MARKER.search if scanning else _SEGMENT.match)(data, position)
        if found is None:
            if scanning:
                raise _Bad("it ends before its end-of-image marker (truncated)")
            raise _Bad("a segment does not start where the previous one ends")
        marker = found.group(1)[0]
        if marker == _EOI:
            if not scanning:
                raise _Bad("it has no image data (no scan before its end)")
            trailing = len(data) - found.end()
            if trailing:
                raise _Bad(f"{trailing} bytes follow its end-of-image marker (trailing data)")
            return
        if marker not in _WITH_LENGTH:
            raise _Bad(f"it holds an invalid marker 0xFF{marker:02X}")
        segment = found.end()
        if segment + 2 > len(data):
            raise _Bad("it ends inside a segment (truncated)")
        (length,) = struct.unpack_from(">H", data, segment)
        if length < 2 or segment + length > len(data):
            raise _Bad("a segment runs past the end of the file (truncated)")
        position = segment + length
        scanning = scanning or marker == _SOS


# --- PNG ------------------------------------------------------------------------------------


def _png_size(data: bytes | mmap.mmap) -> tuple[int, int]:
    if len(data) < 33 or data[12:16] != b"IHDR" or data[8:12] != b"\x00\x00\x00\x0d":
        raise _Bad("it does not start with its IHDR header chunk")
    width, height = struct.unpack_from(">II", data, 16)
    return width, height


def _png_rows(width: int, height: int, bits: int, interlaced: bool) -> Iterator[tuple[int, int]]:
    """(bytes per row including the filter byte, rows) of each pass of the inflated data."""
    for x0, y0, dx, dy in _ADAM7_ALL if interlaced else ((0, 0, 1, 1),):
        columns = (width - x0 + dx - 1) // dx if width > x0 else 0
        rows = (height - y0 + dy - 1) // dy if height > y0 else 0
        if columns and rows:
            yield 1 + (columns * bits + 7) // 8, rows


class _Inflated:
    """Counts the inflated image data against its expected layout, checking filter bytes."""

    def __init__(self, passes: list[tuple[int, int]]) -> None:
        self._passes = passes
        self.expected = sum(stride * rows for stride, rows in passes)
        self.seen = 0
        self._inflater = zlib.decompressobj()

    def feed(self, compressed: memoryview) -> None:
        if self._inflater.eof:
            raise _Bad("image data follows the end of its compressed stream")
        try:
            piece = self._inflater.decompress(compressed, _INFLATE_PIECE)
            self._take(piece)
            while self._inflater.unconsumed_tail:
                piece = self._inflater.decompress(self._inflater.unconsumed_tail, _INFLATE_PIECE)
                self._take(piece)
        except zlib.error as exc:
            raise _Bad(f"its image data does not inflate ({exc})") from None

    def _take(self, piece: bytes) -> None:
        start, end = self.seen, self.seen + len(piece)
        if end > self.expected:
            raise _Bad("its image data is longer than its size says")
        # Every row starts with its filter type (0-4); check those inside this piece.
        base = 0
        for stride, rows in self._passes:
            top = base + stride * rows
            if start < top and end > base:
                first = base + -(-(max(start, base) - base) // stride) * stride
                if first < min(end, top):
                    filters = piece[first - start : min(end, top) - start : stride]
                    if max(filters) > 4:
                        raise _Bad("a row has an unknown filter type")
            base = top
        self.seen = end

    def finish(self) -> None:
        if not self._inflater.eof or self.seen != self.expected:
            raise _Bad("its image data is shorter than its size says (truncated)")
        if self._inflater.unused_data:
            raise _Bad("bytes follow its compressed image data")


def _check_png(data: bytes | mmap.mmap) -> None:
    """Walk the chunks from IHDR to IEND (CRCs, order) and inflate the image data."""
    width, height = _png_size(data)
    bits, colour, compression, filtering, interlace = struct.unpack_from(">5B", data, 24)
    channels, depths = _PNG_COLOURS.get(colour, (0, ()))
    if bits not in depths or compression or filtering or interlace > 1 or not width * height:
        raise _Bad("its IHDR header is invalid")
    inflated = _Inflated(list(_png_rows(width, height, bits * channels, interlace == 1)))
    size = len(data)
    position, previous, palette, idat_seen = 8, b"", False, False
    with memoryview(data) as view:
        while True:
            if position + 12 > size:
                raise _Bad("it ends before its IEND chunk (truncated)")
            length, kind = struct.unpack_from(">I4s", data, position)
            body = position + 8
            end = body + length + 4
            if length > 0x7FFFFFFF or end > size:
                raise _Bad("a chunk runs past the end of the file (truncated)")
            (crc,) = struct.unpack_from(">I", data, body + length)
            if zlib.crc32(view[body : body + length], zlib.crc32(kind)) != crc:
                raise _Bad(f"its {kind.decode('latin-1')!r} chunk fails its CRC")
            if kind == b"IDAT":
                if previous != b"IDAT" and idat_seen:
                    raise _Bad("its IDAT chunks are not consecutive")
                idat_seen = True
                if colour == 3 and not palette:
                    raise _Bad("its palette is missing")
                inflated.feed(view[body : body + length])
            elif kind == b"PLTE":
                palette = True
            elif kind == b"IEND":
                break
            elif kind == b"IHDR" and position != 8:
                raise _Bad("it has a second IHDR chunk")
            elif kind[0] & 0x20 == 0 and kind != b"IHDR":
                raise _Bad(f"it has an unknown critical chunk {kind.decode('latin-1')!r}")
            previous = kind
            position = end
    inflated.finish()
    if end != size:
        raise _Bad(f"{size - end} bytes follow its IEND chunk (trailing data)")


# --- WebP -----------------------------------------------------------------------------------


def _webp_size(data: bytes | mmap.mmap) -> tuple[int, int]:
    head = bytes(data[:30])
    kind = head[12:16]
    if kind == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", head, 26)
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        (bits,) = struct.unpack_from("<I", head, 21)
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X" and len(head) >= 30:
        return (
            int.from_bytes(head[24:27], "little") + 1,
            int.from_bytes(head[27:30], "little") + 1,
        )
    raise _Bad("it has no VP8, VP8L or VP8X header")


def _check_webp_container(data: bytes | mmap.mmap) -> None:
    """The RIFF size must be the file's, and the chunks must fill it exactly."""
    (riff,) = struct.unpack_from("<I", data, 4)
    if riff + 8 != len(data):
        what = "trailing data" if riff + 8 < len(data) else "truncated"
        raise _Bad(f"its RIFF header says {riff + 8} bytes but the file has {len(data)} ({what})")
    position = 12
    while position < len(data):
        if position + 8 > len(data):
            raise _Bad("it ends inside a chunk header (truncated)")
        (length,) = struct.unpack_from("<I", data, position + 4)
        position += 8 + length + (length & 1)
        if position > len(data):
            raise _Bad("a chunk runs past the end of its RIFF container")


def _pillow(file: BinaryIO, declared: str) -> None:
    """Pillow parses the header (a JPEG's tables up to its first scan) and decodes a WebP."""
    from PIL import Image  # on the first upload, not before the server listens

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file, formats=[_PIL_FORMATS[declared]]) as image:
                if declared == "image/webp":
                    image.load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Warning) as exc:
        raise _Bad(f"it cannot be decoded ({type(exc).__name__})") from None


# --- the check ------------------------------------------------------------------------------

_SIZES: Final = {"image/jpeg": _jpeg_size, "image/png": _png_size, "image/webp": _webp_size}


def verify_image(
    source: bytes | Path,
    declared: str,
    *,
    max_pixels: int,
    size: tuple[int, int] | None = None,
) -> None:
    """Raise ImageRefused unless the bytes (or the file) are one whole image of the declared
    type, of `size` (width, height) when given, with at most `max_pixels` pixels. Uploads small
    enough to stay in memory are checked there, never read back."""
    if isinstance(source, bytes):
        _verify(source, io.BytesIO(source), declared, max_pixels, size)
        return
    # A large upload is read from its file: opened once, mapped once, for all the checks.
    with source.open("rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            _verify(b"", f, declared, max_pixels, size)
            return
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            _verify(mapped, f, declared, max_pixels, size)


def _refuse(declared: str, problem: str) -> ImageRefused:
    return ImageRefused(Refusal.NOT_DECLARED_IMAGE, f"the {declared} file is broken: {problem}")


def _verify(
    data: bytes | mmap.mmap,
    file: BinaryIO,
    declared: str,
    max_pixels: int,
    size: tuple[int, int] | None,
) -> None:
    found = sniff(bytes(data[:16]))
    if found is None:
        raise ImageRefused(
            Refusal.NOT_DECLARED_IMAGE,
            f"the file is not a JPEG, PNG or WebP image (declared {declared})",
        )
    if found != declared:
        raise ImageRefused(
            Refusal.NOT_DECLARED_IMAGE, f"the file is {found} but the metadata declares {declared}"
        )
    try:
        width, height = _SIZES[declared](data)
    except _Bad as exc:
        raise _refuse(declared, str(exc)) from None
    except struct.error:
        raise _refuse(declared, "it ends inside its header (truncated)") from None
    if not width or not height:
        raise _refuse(declared, "its header gives no size")
    if size is not None and (width, height) != size:
        raise ImageRefused(
            Refusal.SIZE_MISMATCH,
            f"the image is {width}x{height} pixels but the metadata says {size[0]}x{size[1]}",
        )
    if width * height > max_pixels or max(width, height) > MAX_SIDE:
        raise ImageRefused(
            Refusal.TOO_MANY_PIXELS,
            f"the image is {width}x{height} = {width * height} pixels, more than this server "
            f"decodes ({max_pixels} pixels, sides up to {MAX_SIDE})",
        )
    try:
        if declared == "image/jpeg":
            _check_jpeg(data)
            _pillow(file, declared)
        elif declared == "image/png":
            _check_png(data)
        else:
            _check_webp_container(data)
            _pillow(file, declared)
    except _Bad as exc:
        raise _refuse(declared, str(exc)) from None
    except struct.error:
        raise _refuse(declared, "it ends inside a chunk (truncated)") from None


def check_image(source: bytes | Path, declared: str, max_pixels: int = 2**32) -> str | None:
    """None when the bytes (or the file) are a whole image of the declared type, else what is
    wrong (verify_image without the metadata's size)."""
    try:
        verify_image(source, declared, max_pixels=max_pixels)
    except ImageRefused as exc:
        return exc.problem
    return None
