"""Byte sizes in words, in one unit system everywhere (status, outbox, doctor, config, errors).

Binary units (KiB, MiB, GiB: powers of 1024), because the sizes users set are binary: the
outbox cap defaults to 2 GiB and the log file to 5 MiB, and shown in decimal units those read
as "2147.5 MB" and "5.2 MB". One system means the cap a user typed comes back as they typed it.
"""

from __future__ import annotations

__all__ = ["format_size"]

_UNITS = ("KiB", "MiB", "GiB", "TiB")


def format_size(count: float) -> str:
    """`count` bytes as "512 B", "1.5 KiB", "12.3 MiB" or "2.0 GiB"."""
    if abs(count) < 1024:
        return f"{count:.0f} B"
    value = float(count)
    for unit in _UNITS:
        value /= 1024
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")
