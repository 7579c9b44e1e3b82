"""KWin's window report as windows and monitors: a pure function from the script's JSON.

Everything is in KWin's logical coordinates, and so are the frames (kwin_shot.py asks
ScreenShot2 for the workspace at logical size): a window's frameGeometry (a QRectF, fractional
under a 1.5 scale) is rounded outwards, so a half-covered pixel belongs to the window.
"""

from __future__ import annotations

import math
import uuid
from typing import Any

from jarvis_platform.errors import PlatformError
from jarvis_platform.types import Monitor, Rect, WindowInfo

__all__ = ["monitors_from_report", "window_id", "windows_from_report"]


def window_id(internal_id: str) -> int:
    """KWin's window UUID as the stable integer id WindowInfo carries."""
    try:
        return uuid.UUID(internal_id).int & ((1 << 63) - 1)
    except ValueError as exc:
        raise PlatformError(
            f"KWin reported a window id that is not a UUID: {internal_id!r}"
        ) from exc


def _outward(x: float, y: float, width: float, height: float) -> Rect:
    left, top = math.floor(x), math.floor(y)
    return Rect(left, top, math.ceil(x + width) - left, math.ceil(y + height) - top)


def monitors_from_report(report: dict[str, Any]) -> list[Monitor]:
    """The screens, left to right then top to bottom, in logical pixels."""
    screens = [
        _outward(float(s["x"]), float(s["y"]), float(s["width"]), float(s["height"]))
        for s in report.get("screens", [])
    ]
    screens.sort(key=lambda r: (r.x, r.y))
    return [Monitor(index, rect) for index, rect in enumerate(screens)]


def windows_from_report(report: dict[str, Any]) -> list[WindowInfo]:
    """KWin's windows, bottom to top; popups (menus, tooltips, transient popups) are flagged
    with the window they belong to, and inherit its app name."""
    desktop = report.get("desktop")
    raw = sorted(report.get("windows", []), key=lambda w: int(w.get("stacking", 0)))
    classes = {str(w["id"]): str(w.get("resourceClass") or "") or None for w in raw}
    found: list[WindowInfo] = []
    for stacking, item in enumerate(raw):
        on_desktop = item.get("desktop") in (-1, desktop, None)
        owner_uuid = item.get("transientFor")
        popup = bool(item.get("popup"))
        owner = window_id(str(owner_uuid)) if popup and owner_uuid else None
        app = classes.get(str(owner_uuid)) if owner is not None else None
        found.append(
            WindowInfo(
                id=window_id(str(item["id"])),
                app_name=app or (str(item.get("resourceClass") or "") or None),
                title=str(item.get("caption") or "") or None,
                rect=_outward(
                    float(item["x"]), float(item["y"]), float(item["width"]), float(item["height"])
                ),
                pid=int(item["pid"]) if item.get("pid") and int(item["pid"]) > 0 else None,
                active=bool(item.get("active")),
                hidden=bool(item.get("minimized")) or bool(item.get("hidden")) or not on_desktop,
                stacking=stacking,
                popup=popup,
                owner=owner,
            )
        )
    return found
