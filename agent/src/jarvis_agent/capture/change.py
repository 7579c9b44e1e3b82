"""Change check: is this monitor's frame different enough from the last one captured?

Frames are compared on a strided sample about 640 px wide (every n-th pixel of every n-th row,
read as 32-bit words; n = 3 at 1080p, 6 at 4K), which costs well under a millisecond and still
sees a changed character (8x16 px). The reference is the last *captured* frame, so many small
changes add up until one is captured. The pipeline makes the tray's thumbnail from the same
sample (see `sample_pixels`): box-reduced 2x, it is the 320 px thumbnail, without a second
pass over the frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

__all__ = ["ChangeDetector", "ChangeVerdict", "Sample", "sample_pixels"]

SAMPLE_SIZE = 640  # longest side of the sample, roughly: twice the thumbnail's
Sample = npt.NDArray[np.uint32]


@dataclass(frozen=True, slots=True)
class ChangeVerdict:
    """Whether to capture, with the changed share of sampled pixels and a reason."""

    capture: bool
    changed: float
    reason: str


def stride(width: int, height: int) -> int:
    """The sampling step for a frame of this size (at least 2, so the check stays cheap)."""
    return max(2, max(width, height) // SAMPLE_SIZE)


def _sample(pixels: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint32]:
    height, width = int(pixels.shape[0]), int(pixels.shape[1])
    words = pixels.view(np.uint32).reshape(height, width)
    step = stride(width, height)
    # Alpha carries no picture; masking it keeps X servers that leave it undefined from "changing".
    return np.bitwise_and(words[::step, ::step], np.uint32(0x00FFFFFF))


def sample_pixels(sample: Sample) -> npt.NDArray[np.uint8]:
    """A sample as a (height, width, 4) BGRX frame (no copy), e.g. to make a thumbnail of it."""
    return sample.view(np.uint8).reshape(sample.shape[0], sample.shape[1], 4)


class ChangeDetector:
    """Per-monitor references of the last captured frame, and the time it was captured."""

    def __init__(self) -> None:
        self._reference: dict[int, npt.NDArray[np.uint32]] = {}
        self._captured_at: dict[int, datetime] = {}

    def check(
        self,
        monitor: int,
        pixels: npt.NDArray[np.uint8],
        now: datetime,
        *,
        threshold: float,
        max_gap_seconds: float,
        force: bool = False,
    ) -> tuple[ChangeVerdict, npt.NDArray[np.uint32]]:
        """The verdict for this frame, and its sample (pass it to `accept` once it is captured)."""
        sample = _sample(pixels)
        if force:
            return ChangeVerdict(True, 1.0, "forced"), sample
        reference = self._reference.get(monitor)
        if reference is None or reference.shape != sample.shape:
            return ChangeVerdict(True, 1.0, "first frame of this monitor"), sample
        changed = float(np.count_nonzero(reference != sample)) / sample.size
        last = self._captured_at.get(monitor)
        gap = (now - last).total_seconds() if last is not None else float("inf")
        if changed > threshold:
            return ChangeVerdict(True, changed, f"{changed:.2%} of the screen changed"), sample
        if gap >= max_gap_seconds:
            return ChangeVerdict(
                True, changed, f"unchanged, but {gap:.0f} s since the last capture"
            ), sample
        return ChangeVerdict(
            False, changed, f"unchanged since the last capture ({changed:.2%} changed)"
        ), sample

    def due(self, monitor: int, now: datetime, max_gap_seconds: float) -> bool:
        """True when this monitor went `max_gap_seconds` without a capture (or never had one)."""
        last = self._captured_at.get(monitor)
        return last is None or (now - last).total_seconds() >= max_gap_seconds

    def accept(self, monitor: int, sample: npt.NDArray[np.uint32], now: datetime) -> None:
        """Remember a captured frame as this monitor's new reference."""
        self._reference[monitor] = sample
        self._captured_at[monitor] = now

    def reset(self) -> None:
        self._reference.clear()
        self._captured_at.clear()
