"""Change check: is this monitor's frame different enough from the last one captured?

Frames are compared on a strided sample about 640 px wide (every n-th pixel of every n-th row,
read as 32-bit words; n = 3 at 1080p, 6 at 4K), which costs well under a millisecond and still
sees a changed character (8x16 px). The reference is the last *captured* frame, so many small
changes add up until one is captured. The pipeline makes the tray's thumbnail from the same
sample (see `sample_pixels`): box-reduced 2x, it is the 320 px thumbnail, without a second
pass over the frame.

Two measures, either of which captures:
- the changed share of the whole sample (`threshold`, 0.1 % by default): a window opened, a
  page scrolled;
- a line of text: where fewer pixels changed, the sample is cut into tiles of 16x16 samples,
  tiles with fewer than 3 changed samples are taken as noise, and if the other tiles hold at
  least LINE_SAMPLES changed samples spanning at least LINE_WIDTH_PX across (or LINE_HEIGHT_PX
  down) on screen within one area of neighbouring tiles, a line changed. One changed line of
  ten characters in a terminal spans 60-90 px at 1080p (twice that at 4K with 2x scaling), a
  blinking cursor one character cell (9-27 px): the line is caught, the cursor is not.
Regions the user chose to ignore (a clock in the panel: see `capture.ignore_regions`) never count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt

from jarvis_platform.types import Rect

__all__ = ["ChangeDetector", "ChangeVerdict", "Sample", "sample_pixels"]

SAMPLE_SIZE = 640  # longest side of the sample, roughly: twice the thumbnail's
TILE = 16  # samples per tile side
TILE_NOISE = 3  # changed samples a tile needs to count: fewer is noise (dithering, a stray pixel)
# Changed samples a line needs in all (one character is 5-12 at stride 3-6; noise that happens
# to fill one tile is 3-5).
LINE_SAMPLES = 10
LINE_WIDTH_PX = 32  # three characters at 1080p: wider than any text cursor
LINE_HEIGHT_PX = 64  # taller than a bar cursor at 3x scaling (two lines of text at 1080p)
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


def _mask_ignored(diff: npt.NDArray[np.bool_], step: int, ignore: Sequence[Rect]) -> None:
    for rect in ignore:
        # Every sample inside or touching the region (rounded outwards).
        top, left = rect.y // step, rect.x // step
        bottom, right = -(-rect.bottom // step), -(-rect.right // step)
        diff[max(top, 0) : max(bottom, 0), max(left, 0) : max(right, 0)] = False


def _groups(dense: npt.NDArray[np.bool_]) -> list[list[tuple[int, int]]]:
    """Dense tiles grouped with their neighbours (8-connected): one group per changed area."""
    left = {(int(r), int(c)) for r, c in np.argwhere(dense)}
    groups = []
    while left:
        stack = [left.pop()]
        group = list(stack)
        while stack:
            r, c = stack.pop()
            for near in ((r + dr, c + dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)):
                if near in left:
                    left.remove(near)
                    group.append(near)
                    stack.append(near)
        groups.append(group)
    return groups


def text_extent(diff: npt.NDArray[np.bool_], step: int) -> tuple[int, int, int]:
    """The changed area that looks most like a line of text: screen width and height (px)
    spanned by its changed samples, and how many there are. An area is a group of neighbouring
    tiles that are not noise (at least TILE_NOISE changed samples each), so a blinking cursor
    and a stray pixel far from it are two areas, neither of them a line."""
    height, width = diff.shape
    rows, cols = -(-height // TILE), -(-width // TILE)
    padded = np.zeros((rows * TILE, cols * TILE), dtype=bool)
    padded[:height, :width] = diff
    counts = padded.reshape(rows, TILE, cols, TILE).sum(axis=(1, 3))
    dense = counts >= TILE_NOISE
    best = (0, 0, 0)
    for group in _groups(dense):
        top, bottom = min(r for r, _ in group), max(r for r, _ in group) + 1
        first, last = min(c for _, c in group), max(c for _, c in group) + 1
        tiles = np.zeros((bottom - top, last - first), dtype=bool)
        for r, c in group:
            tiles[r - top, c - first] = True
        area = padded[top * TILE : bottom * TILE, first * TILE : last * TILE]
        kept = area & np.repeat(np.repeat(tiles, TILE, axis=0), TILE, axis=1)
        ys, xs = np.flatnonzero(kept.any(axis=1)), np.flatnonzero(kept.any(axis=0))
        found = (
            int(xs[-1] - xs[0] + 1) * step,
            int(ys[-1] - ys[0] + 1) * step,
            sum(int(counts[r, c]) for r, c in group),
        )
        if _is_line(*found):
            return found
        best = max(best, found, key=lambda extent: extent[2])
    return best


def _is_line(across: int, down: int, count: int) -> bool:
    return count >= LINE_SAMPLES and (across >= LINE_WIDTH_PX or down >= LINE_HEIGHT_PX)


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
        ignore: Sequence[Rect] = (),
    ) -> tuple[ChangeVerdict, npt.NDArray[np.uint32]]:
        """The verdict for this frame, and its sample (pass it to `accept` once it is captured).

        `ignore`: regions of this monitor (its own coordinates) whose changes never count.
        """
        sample = _sample(pixels)
        if force:
            return ChangeVerdict(True, 1.0, "forced"), sample
        reference = self._reference.get(monitor)
        if reference is None or reference.shape != sample.shape:
            return ChangeVerdict(True, 1.0, "first frame of this monitor"), sample
        diff = reference != sample
        count = int(np.count_nonzero(diff))
        step = stride(int(pixels.shape[1]), int(pixels.shape[0]))
        if count and ignore:
            _mask_ignored(diff, step, ignore)
            count = int(np.count_nonzero(diff))
        changed = float(count) / sample.size
        last = self._captured_at.get(monitor)
        gap = (now - last).total_seconds() if last is not None else float("inf")
        if changed > threshold:
            return ChangeVerdict(True, changed, f"{changed:.2%} of the screen changed"), sample
        if count >= LINE_SAMPLES:
            across, down, kept = text_extent(diff, step)
            if _is_line(across, down, kept):
                return ChangeVerdict(
                    True, changed, f"a line changed ({across}x{down} px, {changed:.2%})"
                ), sample
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
