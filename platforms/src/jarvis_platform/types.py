"""What every platform reports: rectangles, windows, monitors, frames, and the Platform protocol."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from jarvis_platform.errors import PlatformError

__all__ = [
    "ActiveWindow",
    "ActiveWindowEvents",
    "DamageSource",
    "Frame",
    "FrameProvider",
    "FrameSource",
    "Monitor",
    "Platform",
    "Rect",
    "WindowInfo",
    "WindowWatch",
]


@dataclass(frozen=True, slots=True)
class Rect:
    """An axis-aligned rectangle in screen pixels; (x, y) is the top-left corner."""

    x: int
    y: int
    width: int
    height: int

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    @property
    def area(self) -> int:
        return max(self.width, 0) * max(self.height, 0)

    @property
    def empty(self) -> bool:
        return self.width <= 0 or self.height <= 0

    def intersect(self, other: Rect) -> Rect | None:
        """The overlap of two rectangles, or None when they do not overlap."""
        x, y = max(self.x, other.x), max(self.y, other.y)
        right, bottom = min(self.right, other.right), min(self.bottom, other.bottom)
        if right <= x or bottom <= y:
            return None
        return Rect(x, y, right - x, bottom - y)

    def subtract(self, other: Rect) -> list[Rect]:
        """This rectangle minus `other`, as up to four disjoint rectangles."""
        cut = self.intersect(other)
        if cut is None:
            return [] if self.empty else [self]
        pieces = [
            Rect(self.x, self.y, self.width, cut.y - self.y),  # above the cut
            Rect(self.x, cut.bottom, self.width, self.bottom - cut.bottom),  # below
            Rect(self.x, cut.y, cut.x - self.x, cut.height),  # left of it
            Rect(cut.right, cut.y, self.right - cut.right, cut.height),  # right of it
        ]
        return [piece for piece in pieces if not piece.empty]

    def translate(self, dx: int, dy: int) -> Rect:
        return Rect(self.x + dx, self.y + dy, self.width, self.height)


def subtract_all(regions: list[Rect], cutters: list[Rect]) -> list[Rect]:
    """Disjoint `regions` minus every rectangle of `cutters`."""
    for cutter in cutters:
        regions = [piece for region in regions for piece in region.subtract(cutter)]
        if not regions:
            break
    return regions


@dataclass(frozen=True, slots=True)
class WindowInfo:
    """One top-level window as the window system reports it.

    `rect` includes the window manager's frame (title bar, borders): the title bar shows the title,
    so it is part of what redaction must cover. `stacking` is 0 for the bottom-most window and grows
    upwards. `hidden` is true for minimized, hidden, cloaked or unmapped windows (nothing drawn).

    `popup` marks a window the window manager does not manage (an X11 override-redirect menu,
    tooltip or drop-down list); `owner` is the window it says it belongs to (WM_TRANSIENT_FOR),
    when it says so. Popups come after the managed windows, but their place in the stacking
    order is not trusted: the policy never lets one hide a window below it.

    Facts for telling private browser windows apart (where the platform can read them):
    `accessible_names` are the names the accessibility bus gives this window (Chromium's include
    "(Incognito)" where its title does not; more than one when several frames of the process
    could be this window), `process_flags` the command-line options its process was started
    with, names only ("--incognito"; values are never read, they may hold secrets).
    """

    id: int
    app_name: str | None
    title: str | None
    rect: Rect
    pid: int | None = None
    active: bool = False
    hidden: bool = False
    stacking: int = 0
    popup: bool = False
    owner: int | None = None
    accessible_names: tuple[str, ...] = ()
    process_flags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Monitor:
    """One monitor: `index` is 0-based (as in capture metadata), `rect` in screen coordinates."""

    index: int
    rect: Rect


Pixels = npt.NDArray[np.uint8]


@dataclass(slots=True)
class Frame:
    """One monitor's pixels: `pixels` is (height, width, 4) BGRA and writable.

    The pixels stay valid until the same thread grabs the same monitor again (they may live in
    a buffer the next grab of that monitor reuses).
    """

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


@runtime_checkable
class FrameSource(Protocol):
    """Where frames come from: the monitors and one grab of each, in the platform's pixels.

    A monitor's `rect` is where its frame lies in the coordinates of `Platform.windows()`, and
    has the frame's size: a window rect cut by it and moved by -rect.x, -rect.y is the window
    in the frame's own pixels.
    """

    def monitors(self) -> list[Monitor]:
        """The monitors (0-based indices, as in capture metadata)."""
        ...

    def grab(self, monitor: Monitor) -> Frame:
        """The pixels of `monitor` now; raises PlatformError when they cannot be had."""
        ...

    def release(self) -> None:
        """Free the frame buffers' memory until the next grab (no frame is in use)."""
        ...

    def close(self) -> None:
        """Release the connections to the window system (no frame is in use)."""
        ...


@runtime_checkable
class Platform(Protocol):
    """The window system, as the capture engine sees it. One instance per thread.

    Optional capabilities are Protocols of their own, checked with isinstance: `FrameProvider`
    (the frames that go with these windows; without it, frames come from mss, which is right
    for X11, macOS and Windows), `DamageSource` (which screen areas were drawn) and
    `ActiveWindowEvents` (active-window changes as events; without it the agent polls
    `active_window()` once a second).

    A platform whose window list cannot include popups and menus (sway's tree has no
    xdg_popups) sets a class attribute `lists_popups = False`; the policy then skips frames
    while an excluded window is focused, since that window's menus would not be blacked out.
    """

    def windows(self) -> list[WindowInfo]:
        """Top-level windows, bottom to top (including hidden ones, flagged)."""
        ...

    def active_window(self) -> WindowInfo | None:
        """The focused window, or None when nothing has focus."""
        ...

    def idle_seconds(self) -> float | None:
        """Seconds since the last keyboard or mouse input, or None when unknown."""
        ...

    def is_locked(self) -> bool:
        """True when the screen is locked or the screensaver is on."""
        ...

    def close(self) -> None:
        """Release connections to the window system."""
        ...


@runtime_checkable
class FrameProvider(Protocol):
    """Optional: a platform whose frames must come from itself (Wayland: the compositor)."""

    def frame_source(self) -> FrameSource:
        """A new frame source for this session; the caller closes it."""
        ...


@runtime_checkable
class DamageSource(Protocol):
    """Optional: a platform that can tell which screen areas were drawn (X11's DAMAGE)."""

    def damaged(self) -> list[Rect] | None:
        """Areas drawn since the previous call, in screen coordinates; None when unknown."""
        ...


@dataclass(frozen=True, slots=True)
class ActiveWindow:
    """Which window has the focus and its title: what the window-change trigger compares."""

    id: int | None
    title: str | None


class WindowWatch(Protocol):
    """A running watch started by `ActiveWindowEvents.watch_active_window`."""

    @property
    def alive(self) -> bool:
        """True until the watch stopped (asked to, or after its connection was lost)."""
        ...

    def stop(self) -> None:
        """Stop watching and wait for the watcher to end; safe to call more than once."""
        ...


@runtime_checkable
class ActiveWindowEvents(Protocol):
    """Optional: a platform that reports active-window changes as they happen (X11)."""

    def watch_active_window(
        self,
        on_change: Callable[[ActiveWindow], None],
        *,
        on_error: Callable[[PlatformError], None],
    ) -> WindowWatch | None:
        """Start calling `on_change` (from a thread of the watch's own) with the active window.

        The first call reports the window active when the watch starts; later calls report each
        change of focus or of the focused window's title. `on_error` is called once, from the
        same thread, if the window system goes away; the watch has then ended. Returns None
        when this session cannot deliver such events (the caller polls instead). Raises
        PlatformError when the window system cannot be reached.
        """
        ...
