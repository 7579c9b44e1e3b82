"""sway's tree and outputs in frame pixels: pure functions from IPC JSON to windows and monitors.

sway reports every rectangle in logical layout coordinates; a frame holds an output's buffer
pixels, which are the logical size times the output's scale (2, or 1.5). So each window is cut
by each output it touches and every piece converted with that output's scale, rounded outwards
(a half-covered pixel belongs to the window). A window on two outputs is two WindowInfo pieces
with the same id.

Monitors are laid out in one pixel space where they cannot overlap: an output at logical (x, y)
sits at (x, y) times the largest scale rounded up to a whole number; each output's pixels fit in
its logical extent times that factor, so no two monitors share a pixel.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jarvis_platform.errors import PlatformError
from jarvis_platform.types import Monitor, Rect, WindowInfo

__all__ = ["Output", "layout_outputs", "windows_from_tree"]

_VIEW_TYPES = ("con", "floating_con")


@dataclass(frozen=True, slots=True)
class Output:
    """One active output: its name, logical rectangle, scale and place among the monitors."""

    name: str
    logical: Rect
    scale: float
    monitor: Monitor

    def to_pixels(self, rect: Rect) -> Rect | None:
        """The part of a logical rectangle on this output, in monitor pixels (rounded outwards)."""
        cut = rect.intersect(self.logical)
        if cut is None:
            return None
        s, m = self.scale, self.monitor.rect
        x0 = max(0, math.floor((cut.x - self.logical.x) * s))
        y0 = max(0, math.floor((cut.y - self.logical.y) * s))
        x1 = min(m.width, math.ceil((cut.right - self.logical.x) * s))
        y1 = min(m.height, math.ceil((cut.bottom - self.logical.y) * s))
        if x1 <= x0 or y1 <= y0:
            return None
        return Rect(m.x + x0, m.y + y0, x1 - x0, y1 - y0)


def _rect(value: dict[str, Any] | None) -> Rect:
    value = value or {}
    return Rect(
        int(value.get("x", 0)),
        int(value.get("y", 0)),
        int(value.get("width", 0)),
        int(value.get("height", 0)),
    )


def layout_outputs(outputs: list[dict[str, Any]]) -> list[Output]:
    """Active outputs (from GET_OUTPUTS) as monitors, ordered left to right, top to bottom.

    Raises PlatformError for a rotated or flipped output (its frame would need turning first).
    """
    active = [o for o in outputs if o.get("active")]
    active.sort(key=lambda o: (_rect(o.get("rect")).x, _rect(o.get("rect")).y))
    factor = max((math.ceil(float(o.get("scale") or 1.0)) for o in active), default=1)
    found: list[Output] = []
    for index, output in enumerate(active):
        transform = output.get("transform") or "normal"
        if transform != "normal":
            raise PlatformError(
                f"output {output.get('name')} is rotated or flipped ({transform}); Jarvis cannot "
                "place windows on its frames yet, so it captures nothing. Set "
                f"`output {output.get('name')} transform normal` to capture."
            )
        logical = _rect(output.get("rect"))
        mode = output.get("current_mode") or {}
        width, height = int(mode.get("width", 0)), int(mode.get("height", 0))
        if width <= 0 or height <= 0:
            scale = float(output.get("scale") or 1.0)
            width, height = round(logical.width * scale), round(logical.height * scale)
        pixels = Rect(logical.x * factor, logical.y * factor, width, height)
        found.append(
            Output(
                str(output.get("name")),
                logical,
                float(output.get("scale") or 1.0),
                Monitor(index, pixels),
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class _View:
    node: dict[str, Any]
    rect: Rect  # logical, title bar and borders included
    title_bar: Rect | None  # logical; drawn even when the view is a hidden tab
    floating: bool
    workspace_shown: bool


def _views(tree: dict[str, Any]) -> Iterator[_View]:
    for output in tree.get("nodes", []):
        if output.get("name") == "__i3":  # the scratchpad: nothing there is drawn
            continue
        shown = output.get("current_workspace")
        for workspace in output.get("nodes", []):
            yield from _walk(workspace, workspace, workspace.get("name") == shown, floating=False)


def _walk(
    node: dict[str, Any], parent: dict[str, Any], shown: bool, *, floating: bool
) -> Iterator[_View]:
    for child in node.get("nodes", []):
        yield from _view_or_walk(child, node, shown, floating=floating)
    for child in node.get("floating_nodes", []):
        yield from _view_or_walk(child, node, shown, floating=True)


def _view_or_walk(
    node: dict[str, Any], parent: dict[str, Any], shown: bool, *, floating: bool
) -> Iterator[_View]:
    if node.get("type") in _VIEW_TYPES and not node.get("nodes") and not node.get("floating_nodes"):
        rect = _rect(node.get("rect"))
        deco = _rect(node.get("deco_rect"))
        title_bar = None
        if not deco.empty:
            # deco_rect is relative to the parent container (or the workspace at the top level).
            origin = _rect(parent.get("rect"))
            title_bar = deco.translate(origin.x, origin.y)
            rect = _union(rect, title_bar)
        yield _View(node, rect, title_bar, floating, shown)
    else:
        yield from _walk(node, parent, shown, floating=floating)


def _union(a: Rect, b: Rect) -> Rect:
    if a.empty:
        return b
    x, y = min(a.x, b.x), min(a.y, b.y)
    return Rect(x, y, max(a.right, b.right) - x, max(a.bottom, b.bottom) - y)


def _app_name(node: dict[str, Any]) -> str | None:
    app_id = node.get("app_id")
    if app_id:
        return str(app_id)
    props = node.get("window_properties") or {}
    return str(props["class"]) if props.get("class") else None  # Xwayland: the X11 class


def windows_from_tree(tree: dict[str, Any], outputs: list[Output]) -> list[WindowInfo]:
    """Every view in GET_TREE as windows bottom to top, in the monitors' pixels.

    Stacking: hidden views first, then per output the tiled views, the floating ones in sway's
    order (the last is on top) and a fullscreen view above all. A hidden tab's title bar is still
    drawn in its parent's tab bar, so it is listed as a shown window of its own (the title of an
    excluded window must not be captured there either).
    """
    hidden: list[WindowInfo] = []
    tiled: list[WindowInfo] = []
    floating: list[WindowInfo] = []
    fullscreen: list[WindowInfo] = []
    for view in _views(tree):
        node = view.node
        base = WindowInfo(
            id=int(node["id"]),
            app_name=_app_name(node),
            title=node.get("name") or None,
            rect=Rect(0, 0, 0, 0),
            pid=int(node["pid"]) if node.get("pid") else None,
            active=bool(node.get("focused")),
        )
        visible = bool(node.get("visible")) and view.workspace_shown
        regions = view.rect if visible else view.title_bar if view.workspace_shown else None
        pieces = [p for out in outputs if regions is not None and (p := out.to_pixels(regions))]
        if not visible:
            hidden.append(_replace(base, rect=Rect(0, 0, 0, 0), hidden=True))
        if not pieces:
            continue
        target = fullscreen if node.get("fullscreen_mode") else floating if view.floating else tiled
        if not visible:
            target = tiled  # a hidden tab's title bar, in its tiled parent's tab bar
        target.extend(
            _replace(base, rect=piece, active=base.active and visible) for piece in pieces
        )
    ordered = hidden + tiled + floating + fullscreen
    return [_replace(w, stacking=i) for i, w in enumerate(ordered)]


def _replace(window: WindowInfo, **changes: Any) -> WindowInfo:
    from dataclasses import replace

    return replace(window, **changes)
