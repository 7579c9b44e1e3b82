"""What Jarvis's Shell extension reports, as monitors and windows: pure functions over its JSON.

The extension (gnome_extension/jarvis@jarvis.local/extension.js) lists every window actor in
stacking order, bottom to top, with its frame rect in stage pixels: on a Wayland session in
mutter's default (physical) layout, stage pixels are the pixels of the screenshot, monitor by
monitor. Menus, drop-downs and tooltips are windows of their own there (xdg_popups and Xwayland
override-redirect windows), flagged `popup` with the window they belong to as `owner`.
"""

from __future__ import annotations

from typing import Any

from jarvis_platform.errors import PlatformError
from jarvis_platform.types import ActiveWindow, Monitor, Rect, WindowInfo

__all__ = ["active_from_json", "monitors_from_snapshot", "windows_from_snapshot"]


def _rect(value: Any) -> Rect:
    try:
        x, y, width, height = (int(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise PlatformError(f"the Jarvis Shell extension sent a bad rectangle: {value!r}") from exc
    return Rect(x, y, width, height)


def monitors_from_snapshot(snapshot: dict[str, Any]) -> list[Monitor]:
    """The monitors in stage pixels, ordered left to right, top to bottom (0-based indices)."""
    rects = sorted((_rect(m[:4]) for m in snapshot.get("monitors") or []), key=lambda r: (r.x, r.y))
    if not rects:
        raise PlatformError("GNOME Shell reports no monitor")
    return [Monitor(index, rect) for index, rect in enumerate(rects)]


def windows_from_snapshot(snapshot: dict[str, Any]) -> list[WindowInfo]:
    """Every window the extension listed, bottom to top, as WindowInfo.

    A window counts as drawn when its actor is visible, it is not minimized and it is on the
    active workspace (or on all of them); everything else is `hidden`. The app is the window's
    WM class, which mutter sets to the xdg_toplevel app_id for Wayland windows and to the X11
    class for Xwayland ones; GTK's application id when there is no class.
    """
    found: list[WindowInfo] = []
    for index, item in enumerate(snapshot.get("windows") or []):
        if not isinstance(item, dict) or "id" not in item:
            raise PlatformError(f"the Jarvis Shell extension sent a bad window: {item!r}")
        drawn = bool(item.get("mapped")) and bool(item.get("shown")) and not item.get("minimized")
        drawn = drawn and bool(item.get("on_workspace", True))
        owner = item.get("owner")
        found.append(
            WindowInfo(
                id=int(item["id"]),
                app_name=item.get("wm_class") or item.get("app_id") or None,
                title=item.get("title") or None,
                rect=_rect(item.get("rect")),
                pid=int(item["pid"]) if item.get("pid") else None,
                active=bool(item.get("focused")),
                hidden=not drawn,
                stacking=index,
                popup=bool(item.get("popup")),
                owner=int(owner) if owner is not None else None,
            )
        )
    return found


def active_from_json(value: dict[str, Any]) -> ActiveWindow:
    """The extension's focus report ({"id": ..., "title": ...}) as an ActiveWindow."""
    ident = value.get("id")
    return ActiveWindow(int(ident) if ident is not None else None, value.get("title") or None)
