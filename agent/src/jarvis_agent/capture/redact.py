"""Redaction: black out rectangles of a frame in memory, before anything is encoded."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from jarvis_platform.types import Rect

__all__ = ["redact"]

OPAQUE_BLACK = np.uint32(0xFF000000)  # B, G, R = 0 and A = 255, little-endian BGRA


def redact(pixels: npt.NDArray[np.uint8], rects: Iterable[Rect]) -> int:
    """Fill each rectangle (frame coordinates, clipped to the frame) with opaque black.

    Returns how many rectangles touched the frame.
    """
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    if pixels.shape[2] != 4 or not pixels.flags.c_contiguous:
        raise ValueError(f"expected a contiguous (height, width, 4) BGRA frame, got {pixels.shape}")
    # One 32-bit store per pixel is ~50x faster than three byte-plane stores through a strided view.
    words = pixels.view(np.uint32).reshape(height, width)
    bounds = Rect(0, 0, width, height)
    count = 0
    for rect in rects:
        cut = rect.intersect(bounds)
        if cut is None:
            continue
        words[cut.y : cut.bottom, cut.x : cut.right] = OPAQUE_BLACK
        count += 1
    return count
