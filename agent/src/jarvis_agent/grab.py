"""Grabbing monitors with mss: one mss.MSS per thread, frames as writable BGRA numpy arrays."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import mss
import numpy as np
import numpy.typing as npt

from jarvis_agent.platform.errors import PlatformError
from jarvis_agent.platform.types import Monitor, Rect

__all__ = ["Frame", "Grabber"]

Pixels = npt.NDArray[np.uint8]


@dataclass(slots=True)
class Frame:
    """One monitor's pixels: `pixels` is (height, width, 4) BGRA, writable, owned by this frame."""

    monitor: Monitor
    pixels: Pixels

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    def wipe(self) -> None:
        """Overwrite every pixel (a dropped frame must not linger in memory)."""
        self.pixels.fill(0)


class Grabber:
    """Grabs screen regions; each calling thread gets its own mss.MSS, created on first use."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[Any] = []
        self._lock = threading.Lock()

    def _mss(self) -> Any:
        sct = getattr(self._local, "sct", None)
        if sct is None:
            try:
                sct = mss.MSS()
            except mss.exception.ScreenShotError as exc:
                raise PlatformError(f"cannot open the screen for capture: {exc}") from exc
            self._local.sct = sct
            with self._lock:
                self._all.append(sct)
        return sct

    def monitors(self) -> list[Monitor]:
        """The monitors mss sees (0-based indices, as in capture metadata)."""
        found = self._mss().monitors[1:]
        return [
            Monitor(i, Rect(int(m["left"]), int(m["top"]), int(m["width"]), int(m["height"])))
            for i, m in enumerate(found)
        ]

    def grab(self, monitor: Monitor) -> Frame:
        rect = monitor.rect
        region = {"left": rect.x, "top": rect.y, "width": rect.width, "height": rect.height}
        try:
            shot = self._mss().grab(region)
        except mss.exception.ScreenShotError as exc:
            raise PlatformError(f"could not grab monitor {monitor.index}: {exc}") from exc
        raw = shot.raw  # a bytearray the frame now owns, so redaction can write into it in place
        pixels = np.frombuffer(raw, dtype=np.uint8).reshape(shot.height, shot.width, 4)
        if not pixels.flags.writeable:
            pixels = pixels.copy()
        return Frame(monitor, pixels)

    def close(self) -> None:
        """Close every thread's mss instance (call when no capture is running)."""
        with self._lock:
            instances, self._all = self._all, []
        for sct in instances:
            sct.close()
        self._local = threading.local()
