"""The window privacy policy: pure functions from windows and rules to what a frame may show.

No I/O here: the pipeline gathers the windows and acts on the decision, and tests drive every
branch with plain values. Every decision carries human-readable reasons, which end up in the audit
log, `jarvis status` and the tray. Whether to capture at all (pause, lock, idle, active hours) is
decided in `gates`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from jarvis_agent.capture.rules import ExclusionRule, RuleAction, match_rule
from jarvis_platform.types import Monitor, Rect, WindowInfo, subtract_all

__all__ = [
    "ExcludedWindow",
    "FrameDecision",
    "decide",
    "exposure_grew",
]


@dataclass(frozen=True, slots=True)
class ExcludedWindow:
    """A window that matched a rule, and the part of it that is visible (screen coordinates)."""

    window: WindowInfo
    rule: ExclusionRule
    visible: tuple[Rect, ...]


@dataclass(frozen=True)
class FrameDecision:
    """What to do with this frame.

    `skip`: no capture at all (reasons say why). Otherwise `redactions` maps a monitor index to the
    rectangles to black out, in that monitor's own coordinates (0, 0 = its top-left corner).
    `app_name` / `window_title` describe the focused window for metadata, and are None when that
    window is excluded (an excluded window's title never leaves the machine).
    """

    skip: bool
    reasons: tuple[str, ...]
    redactions: Mapping[int, tuple[Rect, ...]] = field(default_factory=dict)
    excluded: tuple[ExcludedWindow, ...] = ()
    app_name: str | None = None
    window_title: str | None = None
    active_rect: Rect | None = None

    @property
    def redacted_regions(self) -> int:
        return sum(len(rects) for rects in self.redactions.values())

    def regions_on(self, monitor: int) -> tuple[Rect, ...]:
        return self.redactions.get(monitor, ())


def _visible_area(window: WindowInfo, above: Sequence[WindowInfo]) -> list[Rect]:
    region = [window.rect] if not window.rect.empty else []
    return subtract_all(region, [w.rect for w in above if not w.hidden])


def _rule_for(rules: Sequence[ExclusionRule], window: WindowInfo) -> ExclusionRule | None:
    return match_rule(
        rules,
        window.app_name,
        window.title,
        accessible_names=window.accessible_names,
        process_flags=window.process_flags,
    )


def _popup_rule(
    popup: WindowInfo,
    rules: Sequence[ExclusionRule],
    matched: Mapping[int, tuple[WindowInfo, ExclusionRule]],
    known: set[int],
) -> ExclusionRule | None:
    """The rule a popup falls under: its own, its owner's, else that of a matched window of its
    process or app (a popup that names no known owner could belong to any of them)."""
    rule = _rule_for(rules, popup)
    if rule is not None:
        return rule
    if popup.owner is not None and popup.owner in known:
        owner = matched.get(popup.owner)
        return owner[1] if owner is not None else None
    for window, window_rule in matched.values():
        if popup.pid is not None and window.pid == popup.pid:
            return window_rule
        if popup.app_name and (window.app_name or "").casefold() == popup.app_name.casefold():
            return window_rule
    return None


def decide(
    windows: Sequence[WindowInfo],
    monitors: Sequence[Monitor],
    rules: Sequence[ExclusionRule],
    *,
    lists_popups: bool = True,
) -> FrameDecision:
    """Skip, or capture with every visible excluded window blacked out on every monitor.

    `windows` are in stacking order, bottom to top (the `stacking` field, when set, wins). A window
    whose visible area is nothing (covered, off-screen, hidden) needs no redaction. A popup of an
    excluded window (see `WindowInfo.popup`) is blacked out whole, and no popup ever counts as
    covering a window: its true place in the stack is not known.

    `lists_popups` False says the window list has no popups at all (sway's tree has no
    xdg_popups): an excluded window's menus could not be blacked out, so while one is focused
    (popups belong to the focused window) the frame is skipped.
    """
    ordered = sorted(windows, key=lambda w: w.stacking)
    managed = [w for w in ordered if not w.popup]
    shown = [w for w in managed if not w.hidden]
    excluded: list[ExcludedWindow] = []
    reasons: list[str] = []
    active: WindowInfo | None = next((w for w in shown if w.active), None)
    active_rule: ExclusionRule | None = None
    screen = [m.rect for m in monitors]

    def on_screen(region: list[Rect]) -> tuple[Rect, ...]:
        return tuple(
            cut for piece in region for area in screen if (cut := piece.intersect(area)) is not None
        )

    matched: dict[int, tuple[WindowInfo, ExclusionRule]] = {}
    for window in managed:
        rule = _rule_for(rules, window)
        if rule is not None:
            matched[window.id] = (window, rule)

    for position, window in enumerate(shown):
        found = matched.get(window.id)
        if found is None:
            continue
        rule = found[1]
        if window is active:
            active_rule = rule
        visible = on_screen(_visible_area(window, shown[position + 1 :]))
        if visible:
            excluded.append(ExcludedWindow(window, rule, visible))

    known = {w.id for w in managed}
    for popup in ordered:
        if not popup.popup or popup.hidden or popup.rect.empty:
            continue
        rule = _popup_rule(popup, rules, matched, known)
        if rule is None:
            continue
        visible = on_screen([popup.rect])
        if visible:
            excluded.append(ExcludedWindow(popup, rule, visible))

    if active_rule is not None and active_rule.action is RuleAction.SKIP:
        return FrameDecision(
            skip=True,
            reasons=(f"focused window matches skip rule {active_rule.name!r}",),
            excluded=tuple(excluded),
        )
    if active_rule is not None and not lists_popups:
        return FrameDecision(
            skip=True,
            reasons=(
                f"focused window matches rule {active_rule.name!r}, and this desktop does not "
                "list its menus and popups, so they could not be blacked out",
            ),
            excluded=tuple(excluded),
        )

    redactions: dict[int, tuple[Rect, ...]] = {}
    for monitor in monitors:
        local: list[Rect] = []
        for item in excluded:
            for piece in item.visible:
                cut = piece.intersect(monitor.rect)
                if cut is not None:
                    local.append(cut.translate(-monitor.rect.x, -monitor.rect.y))
        if local:
            redactions[monitor.index] = tuple(local)
    for item in excluded:
        pixels = sum(r.area for r in item.visible)
        what = "a popup of a window" if item.window.popup else "a window"
        reasons.append(f"redacted {what} matching rule {item.rule.name!r} ({pixels} px visible)")

    app_name = window_title = None
    if active is not None:
        if active_rule is None:
            app_name, window_title = active.app_name, active.title
        else:
            reasons.append(
                f"focused window matches rule {active_rule.name!r}: title and app omitted"
            )
    return FrameDecision(
        skip=False,
        reasons=tuple(reasons),
        redactions=redactions,
        excluded=tuple(excluded),
        app_name=app_name,
        window_title=window_title,
        active_rect=active.rect if active is not None else None,
    )


def exposure_grew(before: FrameDecision, after: FrameDecision) -> str | None:
    """Why a frame decided by `before` is unsafe once the windows are as in `after`, or None.

    Unsafe when the later decision skips, or needs any pixel blacked out that the earlier one did
    not cover (an excluded window appeared, moved, was raised or retitled in between).
    """
    if after.skip:
        return "a skip rule matched after the grab: " + "; ".join(after.reasons)
    for monitor, rects in after.redactions.items():
        uncovered = subtract_all(list(rects), list(before.regions_on(monitor)))
        if uncovered:
            names = sorted({item.rule.name for item in after.excluded})
            return (
                f"an excluded window changed on monitor {monitor} between the policy check and the "
                f"grab ({sum(r.area for r in uncovered)} px not covered; rules {', '.join(names)})"
            )
    return None
