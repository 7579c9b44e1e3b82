"""KWin's window report as windows in frame pixels: pure functions from the script's JSON.

The script gives every window in KWin's logical coordinates (frameGeometry, a QRectF: fractional
under a 1.5 scale); frames come at each output's native resolution (kwin_shot.py asks ScreenShot2
for `native-resolution`), so, as on sway, each window is cut by every output it touches and each
piece converted with that output's scale and place (kwin_outputs.py reads them), rounded
outwards: a half-covered device pixel belongs to the window, and no seam row or column of an
excluded window is left. A window on two outputs is two WindowInfo pieces with the same id.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import replace
from typing import Any

from jarvis_platform.errors import PlatformError
from jarvis_platform.sway_layout import Output
from jarvis_platform.types import Rect, WindowInfo

__all__ = ["to_pixels", "window_id", "windows_from_report"]


def window_id(internal_id: str) -> int:
    """KWin's window UUID as the stable integer id WindowInfo carries."""
    try:
        return uuid.UUID(internal_id).int & ((1 << 63) - 1)
    except ValueError as exc:
        raise PlatformError(
            f"KWin reported a window id that is not a UUID: {internal_id!r}"
        ) from exc


def to_pixels(output: Output, x: float, y: float, width: float, height: float) -> Rect | None:
    """The part of a logical rectangle on `output`, in its monitor's pixels (rounded outwards)."""
    logical, s, m = output.logical, output.scale, output.monitor.rect
    left, top = max(x, logical.x), max(y, logical.y)
    right, bottom = min(x + width, logical.right), min(y + height, logical.bottom)
    if right <= left or bottom <= top:
        return None
    x0 = max(0, math.floor((left - logical.x) * s))
    y0 = max(0, math.floor((top - logical.y) * s))
    x1 = min(m.width, math.ceil((right - logical.x) * s))
    y1 = min(m.height, math.ceil((bottom - logical.y) * s))
    if x1 <= x0 or y1 <= y0:
        return None
    return Rect(m.x + x0, m.y + y0, x1 - x0, y1 - y0)


def windows_from_report(report: dict[str, Any], outputs: list[Output]) -> list[WindowInfo]:
    """KWin's windows, bottom to top, in the monitors' pixels; popups (menus, tooltips,
    transient popups) are flagged with the window they belong to, and inherit its app name.
    A hidden window (or one on no output) is listed once, hidden, with an empty rectangle."""
    raw = sorted(report.get("windows", []), key=lambda w: int(w.get("stacking", 0)))
    classes = {str(w["id"]): str(w.get("resourceClass") or "") or None for w in raw}
    found: list[WindowInfo] = []
    for item in raw:
        on_desktop = bool(item.get("onCurrent", True))
        owner_uuid = item.get("transientFor")
        popup = bool(item.get("popup"))
        owner = window_id(str(owner_uuid)) if popup and owner_uuid else None
        app = classes.get(str(owner_uuid)) if owner is not None else None
        base = WindowInfo(
            id=window_id(str(item["id"])),
            app_name=app or (str(item.get("resourceClass") or "") or None),
            title=str(item.get("caption") or "") or None,
            rect=Rect(0, 0, 0, 0),
            pid=int(item["pid"]) if item.get("pid") and int(item["pid"]) > 0 else None,
            active=bool(item.get("active")),
            hidden=True,
            popup=popup,
            owner=owner,
        )
        hidden = bool(item.get("minimized")) or bool(item.get("hidden")) or not on_desktop
        geometry = (float(item["x"]), float(item["y"]), float(item["width"]), float(item["height"]))
        pieces = [] if hidden else [p for o in outputs if (p := to_pixels(o, *geometry))]
        if not pieces:
            found.append(replace(base, stacking=len(found)))
        found.extend(replace(base, rect=p, hidden=False, stacking=len(found)) for p in pieces)
    return found
