"""The privacy policy's pure decisions: global gates and per-frame redaction or skip."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest
from pydantic import ValidationError

from jarvis_agent.capture.gates import ActiveHours, GateState, evaluate_gates
from jarvis_agent.capture.policy import decide, exposure_grew
from jarvis_agent.capture.rules import ExclusionRule, RuleAction
from jarvis_platform import Monitor, Rect, WindowInfo

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)  # a Wednesday
SCREEN = [Monitor(0, Rect(0, 0, 1920, 1080))]
VAULT = ExclusionRule(name="Vault", app="KeePassXC")
VAULT_SKIP = ExclusionRule(name="Vault", app="KeePassXC", action=RuleAction.SKIP)


def gates(**overrides: object):
    facts: dict[str, object] = {
        "paused_until": None,
        "locked": False,
        "idle_seconds": 1.0,
        "idle_threshold": 300.0,
        "active_hours": None,
    }
    facts.update(overrides)
    return evaluate_gates(NOW, **facts)  # type: ignore[arg-type]


def test_nothing_blocks_a_normal_moment() -> None:
    """Unpaused, unlocked, recently used, no active hours: capturing is allowed."""
    assert gates().allowed


def test_paused_indefinitely_or_until_later_blocks_and_says_so() -> None:
    """Pause gates: indefinitely, or until a time still ahead; a pause in the past has ended."""
    forever = gates(paused_until="indefinitely")
    assert (forever.allowed, forever.state) == (False, GateState.PAUSED)
    assert "resumed" in forever.reason
    later = gates(paused_until=NOW + timedelta(minutes=15))
    assert later.state is GateState.PAUSED
    assert "10:15" in later.reason
    assert gates(paused_until=NOW - timedelta(seconds=1)).allowed


def test_locked_and_idle_block_with_reasons() -> None:
    """A locked screen and input idle past the threshold block capture; unknown idle does not."""
    assert gates(locked=True).state is GateState.LOCKED
    idle = gates(idle_seconds=301.0)
    assert idle.state is GateState.IDLE
    assert "0:05:01" in idle.reason
    assert gates(idle_seconds=None).allowed
    assert gates(idle_seconds=10_000.0, idle_threshold=0).allowed


def test_pause_is_reported_before_lock_and_idle() -> None:
    """When several gates close at once the user sees the one they chose: paused."""
    assert (
        gates(paused_until="indefinitely", locked=True, idle_seconds=9e9).state is GateState.PAUSED
    )


def test_active_hours_on_weekdays() -> None:
    """09:00-17:00 Monday to Friday: Wednesday 10:00 is in, 17:00 and Saturday are out."""
    hours = ActiveHours(start=time(9), end=time(17), days=frozenset(range(5)))
    assert hours.contains(NOW)
    assert not hours.contains(NOW.replace(hour=17))
    assert not hours.contains(NOW + timedelta(days=3))  # Saturday
    blocked = gates(active_hours=hours, idle_seconds=None)
    assert blocked.allowed
    outside = evaluate_gates(
        NOW.replace(hour=8),
        paused_until=None,
        locked=False,
        idle_seconds=None,
        idle_threshold=300,
        active_hours=hours,
    )
    assert outside.state is GateState.OUTSIDE_HOURS
    assert "09:00-17:00 on Mon,Tue,Wed,Thu,Fri" in outside.reason


def test_active_hours_wrapping_past_midnight_belong_to_the_start_day() -> None:
    """22:00-02:00 on Friday covers Friday night and the small hours of Saturday only."""
    hours = ActiveHours(start=time(22), end=time(2), days=frozenset({4}))
    friday = datetime(2026, 3, 6, 23, 0)
    assert hours.contains(friday)
    assert hours.contains(friday + timedelta(hours=2))  # Saturday 01:00
    assert not hours.contains(friday + timedelta(hours=3))  # Saturday 02:00
    assert not hours.contains(friday - timedelta(days=1, hours=22))  # Thursday 01:00


def test_active_hours_reject_bad_days_with_the_allowed_range() -> None:
    """Days outside 0-6 are refused with the rule for days."""
    with pytest.raises(ValidationError, match=r"0 \(Monday\) to 6 \(Sunday\)"):
        ActiveHours(start=time(9), end=time(17), days=frozenset({7}))


def window(wid: int, app: str, rect: Rect, stacking: int, **extra: object) -> WindowInfo:
    fields: dict[str, object] = {"title": f"{app} window"}
    fields.update(extra)
    return WindowInfo(id=wid, app_name=app, rect=rect, stacking=stacking, **fields)  # type: ignore[arg-type]


def test_background_excluded_window_is_redacted_minus_what_covers_it() -> None:
    """A partly covered excluded window: only its visible part is blacked out."""
    vault = window(1, "KeePassXC", Rect(100, 100, 400, 300), 0)
    editor = window(2, "Editor", Rect(300, 200, 400, 300), 1, active=True)
    decision = decide([vault, editor], SCREEN, [VAULT])
    assert not decision.skip
    rects = decision.regions_on(0)
    assert sum(r.area for r in rects) == 400 * 300 - 200 * 200
    for rect in rects:
        assert rect.intersect(editor.rect) is None
    assert (decision.app_name, decision.window_title) == ("Editor", "Editor window")
    assert any("Vault" in reason for reason in decision.reasons)


def test_fully_covered_or_hidden_excluded_window_needs_no_redaction() -> None:
    """An excluded window that shows no pixel (covered, minimized) causes no redaction."""
    vault = window(1, "KeePassXC", Rect(100, 100, 200, 200), 0)
    cover = window(2, "Editor", Rect(0, 0, 800, 600), 1)
    assert decide([vault, cover], SCREEN, [VAULT]).redacted_regions == 0
    hidden = window(1, "KeePassXC", Rect(100, 100, 200, 200), 0, hidden=True)
    assert decide([hidden], SCREEN, [VAULT]).redacted_regions == 0


def test_hidden_window_does_not_cover_an_excluded_one() -> None:
    """A minimized window above an excluded one hides nothing: the whole window is redacted."""
    vault = window(1, "KeePassXC", Rect(100, 100, 200, 200), 0)
    ghost = window(2, "Editor", Rect(0, 0, 800, 600), 1, hidden=True)
    decision = decide([vault, ghost], SCREEN, [VAULT])
    assert decision.regions_on(0) == (Rect(100, 100, 200, 200),)


def test_focused_window_with_skip_rule_skips_the_frame() -> None:
    """A focused window matching a skip rule skips the tick; unfocused it is only redacted."""
    vault = window(1, "KeePassXC", Rect(100, 100, 200, 200), 1, active=True)
    other = window(2, "Editor", Rect(500, 500, 200, 200), 0)
    decision = decide([other, vault], SCREEN, [VAULT_SKIP])
    assert decision.skip
    assert "'Vault'" in decision.reasons[0]
    calm = decide([replace(other, active=True), replace(vault, active=False)], SCREEN, [VAULT_SKIP])
    assert not calm.skip
    assert calm.regions_on(0) == (Rect(100, 100, 200, 200),)


def test_focused_redacted_window_keeps_its_title_and_app_out_of_metadata() -> None:
    """When the focused window is excluded, its title and app never reach the metadata."""
    vault = window(1, "KeePassXC", Rect(100, 100, 200, 200), 0, active=True)
    decision = decide([vault], SCREEN, [VAULT])
    assert (decision.app_name, decision.window_title) == (None, None)
    assert decision.regions_on(0) == (Rect(100, 100, 200, 200),)


def test_window_across_two_monitors_is_redacted_on_both_in_local_coordinates() -> None:
    """An excluded window spanning two monitors is blacked out on each, in that monitor's pixels."""
    monitors = [Monitor(0, Rect(0, 0, 1000, 800)), Monitor(1, Rect(1000, 0, 1000, 800))]
    vault = window(1, "KeePassXC", Rect(900, 100, 300, 200), 0)
    decision = decide([vault], monitors, [VAULT])
    assert decision.regions_on(0) == (Rect(900, 100, 100, 200),)
    assert decision.regions_on(1) == (Rect(0, 100, 200, 200),)


def test_window_off_every_monitor_needs_no_redaction() -> None:
    """An excluded window positioned outside all monitors shows nothing and is not counted."""
    vault = window(1, "KeePassXC", Rect(5000, 5000, 300, 200), 0)
    decision = decide([vault], SCREEN, [VAULT])
    assert decision.redacted_regions == 0
    assert decision.excluded == ()


def test_exposure_grew_when_an_excluded_window_moves_or_appears() -> None:
    """The post-grab check flags any excluded pixel the pre-grab redaction did not cover."""
    vault = window(1, "KeePassXC", Rect(100, 100, 200, 200), 0)
    before = decide([vault], SCREEN, [VAULT])
    assert exposure_grew(before, before) is None
    moved = decide([window(1, "KeePassXC", Rect(150, 100, 200, 200), 0)], SCREEN, [VAULT])
    assert exposure_grew(before, moved) is not None
    shrunk = decide([window(1, "KeePassXC", Rect(100, 100, 100, 100), 0)], SCREEN, [VAULT])
    assert exposure_grew(before, shrunk) is None
    nothing = decide([window(1, "Editor", Rect(100, 100, 200, 200), 0)], SCREEN, [VAULT])
    appeared = decide([window(1, "KeePassXC", Rect(100, 100, 200, 200), 0)], SCREEN, [VAULT])
    reason = exposure_grew(nothing, appeared)
    assert reason is not None
    assert "Vault" in reason


PRIVATE = ExclusionRule(name="Private", title="*Private Browsing*")


def popup(wid: int, rect: Rect, **extra: object) -> WindowInfo:
    """An override-redirect window: no title, placed above the managed windows."""
    fields: dict[str, object] = {"app_name": None, "title": None, "stacking": 100}
    fields.update(extra)
    return WindowInfo(id=wid, rect=rect, popup=True, **fields)  # type: ignore[arg-type]


def test_popup_of_an_excluded_window_is_blacked_out_whole() -> None:
    """A menu owned by an excluded window is redacted, also where it hangs outside that window."""
    vault = window(1, "KeePassXC", Rect(100, 100, 400, 300), 0)
    menu = popup(9, Rect(450, 350, 200, 300), owner=1)
    decision = decide([vault, menu], SCREEN, [VAULT])
    assert decision.regions_on(0) == (Rect(100, 100, 400, 300), Rect(450, 350, 200, 300))
    assert any("a popup of a window matching rule 'Vault'" in r for r in decision.reasons)


def test_popup_of_a_normal_window_is_left_alone_even_in_an_excluded_app() -> None:
    """Firefox runs every window in one process: a normal window's menu, which names its owner,
    is not blacked out because a private window of the same process is open."""
    private = window(1, "firefox", Rect(0, 0, 800, 600), 0, pid=7, title="Bank — Private Browsing")
    normal = window(2, "firefox", Rect(900, 0, 800, 600), 1, pid=7, active=True)
    menu = popup(9, Rect(950, 50, 200, 300), app_name="firefox", pid=7, owner=2)
    decision = decide([private, normal, menu], SCREEN, [PRIVATE])
    assert decision.regions_on(0) == (Rect(0, 0, 800, 600),)


def test_popup_naming_no_owner_goes_with_its_process_or_app() -> None:
    """A popup that names no owner is blacked out when its process or app has an excluded window;
    one from another app is not."""
    private = window(1, "firefox", Rect(0, 0, 800, 600), 0, pid=7, title="Bank — Private Browsing")
    same_pid = popup(8, Rect(900, 0, 100, 100), pid=7)
    same_app = popup(9, Rect(900, 200, 100, 100), app_name="Firefox")
    other = popup(10, Rect(900, 400, 100, 100), app_name="XTerm", pid=8, owner=77)
    decision = decide([private, same_pid, same_app, other], SCREEN, [PRIVATE])
    assert decision.regions_on(0) == (
        Rect(0, 0, 800, 600),
        Rect(900, 0, 100, 100),
        Rect(900, 200, 100, 100),
    )


def test_popup_matching_a_rule_itself_is_blacked_out() -> None:
    """A popup whose own class matches a rule needs no owner (e.g. a tray menu of the vault)."""
    menu = popup(9, Rect(1700, 800, 200, 250), app_name="KeePassXC")
    assert decide([menu], SCREEN, [VAULT]).regions_on(0) == (Rect(1700, 800, 200, 250),)
    assert decide([replace(menu, hidden=True)], SCREEN, [VAULT]).redacted_regions == 0


def test_a_popup_never_covers_an_excluded_window() -> None:
    """A tooltip 'above' an excluded window may really be below it: the window stays black whole."""
    vault = window(1, "KeePassXC", Rect(100, 100, 400, 300), 0)
    tooltip = popup(9, Rect(0, 0, 1920, 1080), app_name="XTerm")
    assert decide([vault, tooltip], SCREEN, [VAULT]).regions_on(0) == (Rect(100, 100, 400, 300),)


def test_exposure_grew_when_an_excluded_popup_opens_after_the_check() -> None:
    """A menu of the vault that opened between the policy check and the grab drops the frame."""
    vault = window(1, "KeePassXC", Rect(100, 100, 400, 300), 0)
    before = decide([vault], SCREEN, [VAULT])
    after = decide([vault, popup(9, Rect(450, 350, 200, 300), owner=1)], SCREEN, [VAULT])
    assert exposure_grew(before, after) is not None


def test_rect_subtract_covers_exactly_the_difference() -> None:
    """Rectangle subtraction yields disjoint pieces whose area is the difference."""
    base = Rect(0, 0, 10, 10)
    pieces = base.subtract(Rect(3, 3, 4, 4))
    assert sum(p.area for p in pieces) == 100 - 16
    for i, a in enumerate(pieces):
        for b in pieces[i + 1 :]:
            assert a.intersect(b) is None
    assert base.subtract(Rect(20, 20, 5, 5)) == [base]
    assert base.subtract(Rect(-5, -5, 50, 50)) == []
