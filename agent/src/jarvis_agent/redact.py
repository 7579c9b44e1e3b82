"""Redaction: black out rectangles of a frame in memory, before anything is encoded."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from jarvis_agent.platform.types import Rect

__all__ = ["redact"]


def redact(pixels: npt.NDArray[np.uint8], rects: Iterable[Rect]) -> int:
    """Fill each rectangle (frame coordinates, clipped to the frame) with opaque black.

    Returns how many rectangles touched the frame.
    """
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    bounds = Rect(0, 0, width, height)
    count = 0
    for rect in rects:
        cut = rect.intersect(bounds)
        if cut is None:
            continue
        pixels[cut.y : cut.bottom, cut.x : cut.right, :3] = 0
        if pixels.shape[2] == 4:
            pixels[cut.y : cut.bottom, cut.x : cut.right, 3] = 255
        count += 1
    return count
