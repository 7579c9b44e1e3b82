"""What Jarvis's Shell extension reports, as monitors and windows in frame pixels: pure functions
over its JSON and mutter's display state.

The extension (gnome_extension/extension.js.in) lists every window actor in
stacking order, bottom to top, with its frame rect in stage coordinates, and each monitor's rect
and scale there. Menus, drop-downs and tooltips are windows of their own (xdg_popups and Xwayland
override-redirect windows), flagged `popup` with the window they belong to as `owner`.

What a stage coordinate is depends on mutter's layout mode (DisplayConfig's `layout-mode`):
- physical (GNOME's default, integer scales): the stage is in the monitors' own pixels, a window
  at scale 2 is simply drawn twice as large; frames and stage agree pixel for pixel;
- logical ("Fractional Scaling" on, mutter's 'scale-monitor-framebuffer'): the stage is in
  logical pixels, a 1920x1080 monitor at 1.5 is 1280x720 there while the screen cast's frame
  keeps its 1920x1080 pixels. Each window is cut by each monitor and multiplied by that
  monitor's scale, rounded outwards, the way sway's are (sway_layout.Output).
A layout that cannot be mapped exactly (a rotated or flipped monitor, a mirrored pair, a scale
whose pixels are not whole) is refused: no window list, so nothing is captured.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from jarvis_platform.errors import PlatformError
from jarvis_platform.sway_layout import Output
from jarvis_platform.types import ActiveWindow, Monitor, Rect, WindowInfo

__all__ = [
    "LOGICAL_LAYOUT",
    "active_from_json",
    "layout_mode",
    "outputs_from_snapshot",
    "outputs_from_state",
    "windows_from_snapshot",
]

LOGICAL_LAYOUT, PHYSICAL_LAYOUT = 1, 2  # mutter's MetaLogicalMonitorLayoutMode
_EXACT = 1e-3  # pixels: how far a scaled monitor edge may be from a whole pixel


def _rect(value: Any) -> Rect:
    try:
        x, y, width, height = (int(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise PlatformError(f"the Jarvis Shell extension sent a bad rectangle: {value!r}") from exc
    return Rect(x, y, width, height)


def layout_mode(state: tuple[Any, ...]) -> int:
    """mutter's layout mode from DisplayConfig.GetCurrentState, after checking that every
    monitor can be mapped onto its frame (raises PlatformError naming the monitor otherwise)."""
    _serial, _monitors, logical_monitors, properties = state
    for x, y, _scale, transform, _primary, monitors, *_ in logical_monitors:
        names = ", ".join(str(m[0]) for m in monitors)
        if int(transform) != 0:
            raise PlatformError(
                f"GNOME's monitor {names} is rotated or flipped; Jarvis cannot place windows on "
                "its frames yet, so it captures nothing. Set its orientation to Landscape in "
                "Settings > Displays to capture"
            )
        if len(monitors) != 1:
            raise PlatformError(
                f"GNOME mirrors monitors {names} at ({x}, {y}); Jarvis cannot map windows onto "
                "mirrored frames yet, so it captures nothing. Use Join Displays in Settings > "
                "Displays to capture"
            )
    mode = properties.get("layout-mode")
    value = int(mode[1]) if isinstance(mode, tuple) else int(mode) if mode is not None else None
    if value not in (LOGICAL_LAYOUT, PHYSICAL_LAYOUT):
        raise PlatformError(
            f"GNOME reports an unknown monitor layout mode ({mode!r}), so Jarvis cannot tell "
            "where windows are on its frames and captures nothing"
        )
    return value


def outputs_from_snapshot(snapshot: dict[str, Any], mode: int) -> list[Output]:
    """The monitors, ordered left to right, top to bottom (0-based indices), each with its rect
    in stage coordinates and its frame's place and size in one pixel space.

    In the physical layout the two are the same. In the logical layout a monitor's frame has
    its stage size times its scale (what mutter casts); monitors are placed at their stage
    position times the largest scale rounded up, so no two share a pixel.
    """
    entries = sorted(
        ((_rect(m[:4]), _scale(m)) for m in snapshot.get("monitors") or []),
        key=lambda entry: (entry[0].x, entry[0].y),
    )
    if not entries:
        raise PlatformError("GNOME Shell reports no monitor")
    if mode != LOGICAL_LAYOUT:
        return [
            Output(f"monitor {index}", rect, 1.0, Monitor(index, rect))
            for index, (rect, _) in enumerate(entries)
        ]
    factor = max(math.ceil(scale) for _, scale in entries)
    found: list[Output] = []
    for index, (rect, scale) in enumerate(entries):
        width, height = rect.width * scale, rect.height * scale
        if abs(width - round(width)) > _EXACT or abs(height - round(height)) > _EXACT:
            raise PlatformError(
                f"GNOME's monitor {index} ({rect.width}x{rect.height} at scale {scale:g}) has no "
                "whole number of pixels, so Jarvis cannot map windows onto its frames and "
                "captures nothing. Choose another scale in Settings > Displays to capture"
            )
        pixels = Rect(rect.x * factor, rect.y * factor, round(width), round(height))
        found.append(Output(f"monitor {index}", rect, scale, Monitor(index, pixels)))
    return found


def outputs_from_state(snapshot: dict[str, Any], state: tuple[Any, ...]) -> list[Output]:
    """The monitors of the extension's snapshot under mutter's GetCurrentState reply."""
    return outputs_from_snapshot(snapshot, layout_mode(state))


def _scale(monitor: Any) -> float:
    try:
        scale = float(monitor[4]) if len(monitor) > 4 else 1.0
    except (TypeError, ValueError) as exc:
        raise PlatformError(f"the Jarvis Shell extension sent a bad monitor: {monitor!r}") from exc
    if not scale > 0:
        raise PlatformError(f"the Jarvis Shell extension sent a bad monitor scale: {monitor!r}")
    return scale


def windows_from_snapshot(snapshot: dict[str, Any], outputs: list[Output]) -> list[WindowInfo]:
    """Every window the extension listed, bottom to top, as WindowInfo in frame pixels.

    A window counts as drawn when its actor is visible, it is not minimized and it is on the
    active workspace (or on all of them); everything else is `hidden`. The app is the window's
    WM class, which mutter sets to the xdg_toplevel app_id for Wayland windows and to the X11
    class for Xwayland ones; GTK's application id when there is no class. A window on two
    monitors is two pieces with the same id, one on each; a window on none keeps an empty rect.
    """
    found: list[WindowInfo] = []
    for index, item in enumerate(snapshot.get("windows") or []):
        if not isinstance(item, dict) or "id" not in item:
            raise PlatformError(f"the Jarvis Shell extension sent a bad window: {item!r}")
        drawn = bool(item.get("mapped")) and bool(item.get("shown")) and not item.get("minimized")
        drawn = drawn and bool(item.get("on_workspace", True))
        owner = item.get("owner")
        base = WindowInfo(
            id=int(item["id"]),
            app_name=item.get("wm_class") or item.get("app_id") or None,
            title=item.get("title") or None,
            rect=Rect(0, 0, 0, 0),
            pid=int(item["pid"]) if item.get("pid") else None,
            active=bool(item.get("focused")),
            hidden=not drawn,
            stacking=index,
            popup=bool(item.get("popup")),
            owner=int(owner) if owner is not None else None,
        )
        stage = _rect(item.get("rect"))
        pieces = [piece for output in outputs if (piece := output.to_pixels(stage))]
        found.extend(replace(base, rect=piece) for piece in pieces or [base.rect])
    return [replace(window, stacking=index) for index, window in enumerate(found)]


def active_from_json(value: dict[str, Any]) -> ActiveWindow:
    """The extension's focus report ({"id": ..., "title": ...}) as an ActiveWindow."""
    ident = value.get("id")
    return ActiveWindow(int(ident) if ident is not None else None, value.get("title") or None)
