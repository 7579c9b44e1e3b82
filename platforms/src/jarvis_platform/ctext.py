"""Decoding X11 COMPOUND_TEXT window titles (xterm and other old clients set WM_NAME this way).

A title matched against privacy rules must be read correctly: a private-browsing marker in Cyrillic
hidden inside ISO 2022 escapes would otherwise slip past every rule. Supported: the UTF-8 segments
(ESC % G ... ESC % @) modern clients use for anything outside Latin-1, and the ISO 8859 right halves
(ESC - F) that older ones use; any other designation is decoded as Latin-1 rather than dropped.
"""

from __future__ import annotations

import re

__all__ = ["decode_compound_text"]

ESC = 0x1B
# Right-half (96-character) sets: final byte -> Python codec.
_RIGHT_HALVES = {
    ord("A"): "iso8859-1",
    ord("B"): "iso8859-2",
    ord("C"): "iso8859-3",
    ord("D"): "iso8859-4",
    ord("F"): "iso8859-7",
    ord("G"): "iso8859-6",
    ord("H"): "iso8859-8",
    ord("L"): "iso8859-5",
    ord("M"): "iso8859-9",
}
_SEGMENT = re.compile(rb"\x1b%G(.*?)(?:\x1b%@|$)", re.DOTALL)
_DESIGNATION = re.compile(rb"\x1b([-()$%][^\x1b]?[\x40-\x7e])")


def _decode_iso2022(data: bytes) -> str:
    out: list[str] = []
    codec = "iso8859-1"
    position = 0
    for found in _DESIGNATION.finditer(data):
        out.append(data[position : found.start()].decode(codec, errors="replace"))
        designation = found.group(1)
        if designation[:1] == b"-" and len(designation) == 2:
            codec = _RIGHT_HALVES.get(designation[1], "iso8859-1")
        position = found.end()
    out.append(data[position:].decode(codec, errors="replace"))
    return "".join(out)


def decode_compound_text(data: bytes) -> str:
    """The text of a COMPOUND_TEXT property value."""
    out: list[str] = []
    position = 0
    for segment in _SEGMENT.finditer(data):
        out.append(_decode_iso2022(data[position : segment.start()]))
        out.append(segment.group(1).decode("utf-8", errors="replace"))
        position = segment.end()
    out.append(_decode_iso2022(data[position:]))
    return "".join(out)
