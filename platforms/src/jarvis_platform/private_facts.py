"""The facts that tell a private browser window apart, added to the windows of any backend.

Chromium-based browsers put no private-window marker in their title on Linux, on X11 and Wayland
alike; what holds is the accessible name of the window ("... (Incognito)", see atspi) and, for a
browser started with --incognito, its process's command line (see proc_flags). Both need only
the window's pid and title, which X11, sway, KWin and GNOME all report, and the accessibility bus
is the same whatever the display server.

A frame is matched to a window by pid and title (Chromium appends " (Incognito)" to the title).
On X11 the frame's screen extents narrow the match further; a Wayland client does not know where
it is on screen (its extents are its own surface's), so there pid and title alone decide. Several
candidates are all kept: a wrong one can only black out a window more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from jarvis_platform.atspi import AccessibleFrame, AtspiFrames
from jarvis_platform.proc_flags import process_flags
from jarvis_platform.types import WindowInfo

__all__ = ["ATSPI_RETRY_SECONDS", "FULL_REFRESH_SECONDS", "PrivateFacts", "names_for"]

ATSPI_RETRY_SECONDS = 30.0  # no accessibility bus: ask again after this long, not every tick
FULL_REFRESH_SECONDS = 60.0  # a pid may be reused by a new process: forget what was read by then


def names_for(
    window: WindowInfo, frames: Sequence[AccessibleFrame], *, by_place: bool = True
) -> tuple[str, ...]:
    """The accessible names that may be this window's: frames of its process whose name starts
    with its title, narrowed (with `by_place`) to those at its place on screen when any is."""
    title = window.title
    if not title:
        return ()
    named = [f for f in frames if f.pid == window.pid and f.name.startswith(title)]
    placed: list[AccessibleFrame] = []
    if by_place:
        rect = window.rect
        placed = [f for f in named if f.rect is not None and rect.intersect(f.rect) == f.rect]
    return tuple(dict.fromkeys(f.name for f in (placed or named)))


class PrivateFacts:
    """Adds `process_flags` and `accessible_names` to windows (one instance per platform).

    `by_place`: match accessible frames by their screen extents too (X11 only, see above).
    `bus`: the session bus that leads to the accessibility bus ("SESSION", or an address).
    Not thread-safe, like the platforms that own one.
    """

    def __init__(self, *, by_place: bool, bus: str = "SESSION") -> None:
        self._by_place = by_place
        self._atspi = AtspiFrames(bus=bus)
        self._atspi_retry = float("-inf")
        self._flags: dict[int, frozenset[str]] = {}  # pid -> options
        # window id -> (pid, title, the window with its facts), for windows whose names were found
        self._kept: dict[int, tuple[int | None, str | None, WindowInfo]] = {}
        self._forget_at = float("-inf")

    def forget(self) -> None:
        """Read every process again (after a full refresh: a pid may now be another process)."""
        self._flags.clear()
        self._kept.clear()

    def add(self, windows: Sequence[WindowInfo], now: float) -> list[WindowInfo]:
        """These windows with their process options and accessible names, read now."""
        pids = {w.pid for w in windows if w.pid is not None}
        for pid in pids - set(self._flags):
            self._flags[pid] = process_flags(pid)
        frames: list[AccessibleFrame] = []
        if pids and now >= self._atspi_retry:
            frames = self._atspi.frames(pids)
            if not self._atspi.connected:
                self._atspi_retry = now + ATSPI_RETRY_SECONDS
        return [
            w
            if w.pid is None
            else replace(
                w,
                process_flags=self._flags.get(w.pid, frozenset()),
                accessible_names=names_for(w, frames, by_place=self._by_place),
            )
            for w in windows
        ]

    def add_kept(self, windows: Sequence[WindowInfo], now: float) -> list[WindowInfo]:
        """As `add`, for a backend that lists every window afresh on every call (Wayland).

        A window whose accessible names were found keeps them while its pid and title stay, so
        a still desktop costs no accessibility round trip; one without names is asked again on
        every call (Chromium may name its frame after its window shows), at one registry call
        when no application of its process is on the bus. A window on several outputs comes as
        several pieces with one id: each piece gets the facts, and keeps its own rectangle.
        """
        if now >= self._forget_at:
            self.forget()
            self._forget_at = now + FULL_REFRESH_SECONDS
        stale: dict[int, WindowInfo] = {}
        for w in windows:
            kept = self._kept.get(w.id)
            if w.pid is not None and (kept is None or kept[:2] != (w.pid, w.title)):
                stale.setdefault(w.id, w)
        facts = {w.id: w for w in self.add(list(stale.values()), now)} if stale else {}
        for wid, w in facts.items():
            if w.accessible_names:
                self._kept[wid] = (w.pid, w.title, w)
            else:
                self._kept.pop(wid, None)
        alive = {w.id for w in windows}
        for gone in set(self._kept) - alive:
            del self._kept[gone]
        out: list[WindowInfo] = []
        for w in windows:
            read = facts.get(w.id) or (self._kept[w.id][2] if w.id in self._kept else None)
            if read is None:
                out.append(w)
            else:
                out.append(
                    replace(
                        w,
                        process_flags=read.process_flags,
                        accessible_names=read.accessible_names,
                    )
                )
        return out

    def close(self) -> None:
        self._atspi.close()
