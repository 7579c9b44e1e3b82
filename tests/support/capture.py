"""Running the capture pipeline once in a test, on any desktop, and racing it.

The pipeline tests of each desktop (X11, sway, KWin, GNOME) fill excluded windows red and count
red pixels in the lossless PNG images the pipeline hands on. `AfterPolicy` wraps a real platform
and makes a real change to the desktop right after the pipeline's first window read, so the
change lands between the policy check and the grab.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from jarvis_agent.capture.pipeline import CapturePipeline, PipelineOptions, TickResult
from jarvis_agent.capture.rules import ExclusionRule, default_rules
from jarvis_contract import CaptureMetadata
from jarvis_platform.types import FrameProvider, FrameSource, Platform, WindowInfo

__all__ = [
    "GREEN",
    "LOSSLESS",
    "RED",
    "VAULT",
    "AfterPolicy",
    "AfterPolicyFrames",
    "BarePlatform",
    "Sink",
    "after_policy",
    "assert_race_drops_the_tick",
    "capture",
    "count",
]

RED = (255, 0, 0)
GREEN = (0, 255, 0)
LOSSLESS = PipelineOptions(image_format="png", agent_version="test")
VAULT = "Passwords.kdbx - KeePassXC"  # matches the default rule for KeePassXC


@dataclass
class Sink:
    """Collects what the pipeline hands to the outbox."""

    items: list[tuple[CaptureMetadata, bytes, bytes | None]] = field(default_factory=list)

    def __call__(self, metadata: CaptureMetadata, data: bytes, thumbnail: bytes | None) -> None:
        self.items.append((metadata, data, thumbnail))

    def image(self, n: int = -1) -> np.ndarray:
        return np.asarray(Image.open(io.BytesIO(self.items[n][1])).convert("RGB"))

    def images(self) -> list[np.ndarray]:
        return [self.image(n) for n in range(len(self.items))]


def count(image: np.ndarray, rgb: tuple[int, int, int]) -> int:
    """Pixels of exactly `rgb`."""
    return int(np.all(image == rgb, axis=2).sum())


def capture(
    platform: Platform, rules: Sequence[ExclusionRule] | None = None
) -> tuple[Sink, TickResult]:
    """One tick of a new pipeline (the default rules unless given) into a new sink."""
    sink = Sink()
    chosen = default_rules() if rules is None else rules
    pipeline = CapturePipeline(platform, sink, rules=chosen, options=LOSSLESS)
    try:
        result = pipeline.capture()
    finally:
        pipeline.close()
    return sink, result


class BarePlatform:
    """A real platform through the Platform protocol alone: none of its optional capabilities
    (active-window events, damage, frames of its own), as on a desktop that has none."""

    def __init__(self, inner: Platform) -> None:
        self.inner = inner

    def windows(self) -> list[WindowInfo]:
        return self.inner.windows()

    def active_window(self) -> WindowInfo | None:
        return self.inner.active_window()

    def idle_seconds(self) -> float | None:
        return self.inner.idle_seconds()

    def is_locked(self) -> bool:
        return self.inner.is_locked()

    def close(self) -> None:
        self.inner.close()


class AfterPolicy(BarePlatform):
    """A real platform that runs `act` right after the pipeline's first window read (then
    `settle`, when given, so the desktop has drawn the change); everything else is the inner
    platform's. Set `lists_popups` to measure what the policy alone would let out."""

    def __init__(
        self,
        inner: Platform,
        act: Callable[[], object],
        settle: Callable[[], object] | None = None,
    ) -> None:
        super().__init__(inner)
        self.act, self.settle = act, settle
        self.reads = 0
        self._lists_popups: bool | None = None

    @property
    def lists_popups(self) -> bool:
        if self._lists_popups is not None:
            return self._lists_popups
        return bool(getattr(self.inner, "lists_popups", True))

    @lists_popups.setter
    def lists_popups(self, value: bool) -> None:
        self._lists_popups = value

    def windows(self) -> list[WindowInfo]:
        found = self.inner.windows()
        self.reads += 1
        if self.reads == 1:
            self.act()
            if self.settle is not None:
                self.settle()
        return found


class AfterPolicyFrames(AfterPolicy):
    """`AfterPolicy` for a platform with frames of its own (Wayland): the pipeline takes them
    from it, as without the wrapper."""

    def frame_source(self) -> FrameSource:
        assert isinstance(self.inner, FrameProvider)
        return self.inner.frame_source()


def after_policy(
    inner: Platform, act: Callable[[], object], settle: Callable[[], object] | None = None
) -> AfterPolicy:
    """The `AfterPolicy` for `inner`: with its frames where it has them (Wayland), else none, so
    the pipeline grabs the screen itself (X11), as without the wrapper."""
    kind = AfterPolicyFrames if isinstance(inner, FrameProvider) else AfterPolicy
    return kind(inner, act, settle)


def assert_race_drops_the_tick(
    racing: AfterPolicy, rules: Sequence[ExclusionRule] | None = None
) -> list[np.ndarray]:
    """The tick that `racing` changes between the policy check and the grab is dropped for that
    change and hands nothing on (no red pixel is checked first: that is what would leak); the
    next tick, which sees the change from the start, is captured without one red pixel. Returns
    that tick's images."""
    sink, result = capture(racing, rules)
    assert [count(image, RED) for image in sink.images()] == []
    assert sink.items == []
    assert result.dropped, result
    assert "between the policy check and the grab" in result.reasons[0]
    sink, result = capture(racing.inner, rules)
    assert not result.dropped, result
    images = sink.images()
    assert [count(image, RED) for image in images] == [0] * len(images)
    return images
