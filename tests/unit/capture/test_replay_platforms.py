"""macOS and Windows window lists (recorded shapes, tests/data/windows/) through the same policy.

No macOS or Windows machine can run here, so these replay the APIs' data through the parsing
functions the real platform classes use, and check what a user would get: which windows are
blacked out, which window names the capture, and what counts as locked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jarvis_agent.capture.policy import decide
from jarvis_agent.capture.rules import default_rules
from jarvis_platform import Monitor, Rect
from jarvis_platform.macos import locked_from_session, windows_from_quartz
from jarvis_platform.windows import EnumRecord, locked_from_desktop, windows_from_enum

DATA = Path(__file__).resolve().parents[2] / "data" / "windows"
SCREEN = [Monitor(0, Rect(0, 0, 1920, 1080))]


def load(name: str) -> dict[str, Any]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))


def test_macos_list_parses_stacking_focus_and_visibility() -> None:
    """Quartz's front-to-back list becomes bottom-to-top; the frontmost app's window is active."""
    recorded = load("macos_cgwindowlist.json")
    windows = windows_from_quartz(recorded["windows"], frontmost_pid=recorded["frontmost_pid"])
    assert [w.app_name for w in windows] == [
        "Finder",
        "1Password",
        "Safari",
        "Notes",
        "Dock",
        "Window Server",
    ]
    notes = next(w for w in windows if w.app_name == "Notes")
    assert notes.active
    assert notes.rect == Rect(296, 203, 1350, 656)
    assert notes.title == "Groceries"
    assert sum(w.active for w in windows) == 1
    one_password = next(w for w in windows if w.app_name == "1Password")
    assert one_password.hidden  # no kCGWindowIsOnscreen: not drawn


def test_macos_private_safari_window_is_redacted_around_the_window_above() -> None:
    """Safari's private window is blacked out except where Notes and the menu bar cover it."""
    recorded = load("macos_cgwindowlist.json")
    windows = windows_from_quartz(recorded["windows"], frontmost_pid=recorded["frontmost_pid"])
    decision = decide(windows, SCREEN, default_rules())
    assert not decision.skip
    safari = Rect(100, 60, 900, 700)
    covers = [Rect(296, 203, 1350, 656), Rect(0, 0, 1920, 25)]
    rects = decision.regions_on(0)
    expected = safari.area - sum(
        cut.area for cover in covers if (cut := safari.intersect(cover)) is not None
    )
    assert sum(r.area for r in rects) == expected  # the two covers do not overlap inside Safari
    assert all(r.intersect(covers[0]) is None for r in rects)
    assert (decision.app_name, decision.window_title) == ("Notes", "Groceries")
    assert [item.rule.name for item in decision.excluded] == ["Private browsing: Safari"]


def test_macos_lock_state_from_the_session_dictionary() -> None:
    """CGSSessionScreenIsLocked decides; no session dictionary (login window) counts as locked."""
    recorded = load("macos_cgwindowlist.json")
    assert not locked_from_session(recorded["session"])
    assert locked_from_session(recorded["locked_session"])
    assert locked_from_session(None)


def windows_records() -> tuple[list[EnumRecord], int]:
    recorded = load("windows_enumwindows.json")
    records = [
        EnumRecord(
            hwnd,
            title,
            klass,
            tuple(bounds),
            pid,
            exe,
            visible,
            iconic,
            cloaked,  # type: ignore[arg-type]
        )
        for hwnd, title, klass, bounds, pid, exe, visible, iconic, cloaked in recorded["windows"]
    ]
    return records, recorded["foreground"]


def test_windows_list_parses_apps_focus_and_hidden_states() -> None:
    """Image names become app names; cloaked and minimized windows are hidden."""
    records, foreground = windows_records()
    windows = windows_from_enum(records, foreground=foreground)
    by_app = {w.app_name: w for w in windows}
    assert windows[0].app_name == "explorer"  # Program Manager, the desktop, at the bottom
    assert by_app["olk"].active
    assert by_app["msedge"].rect == Rect(100, 100, 900, 700)
    assert by_app["KeePassXC"].hidden  # cloaked: on another virtual desktop
    assert by_app["Bitwarden"].hidden  # minimized
    assert not by_app["msedge"].hidden


def test_windows_inprivate_edge_is_redacted_and_hidden_vaults_are_not() -> None:
    """Edge InPrivate is black minus Outlook above it; cloaked or minimized vaults need nothing."""
    records, foreground = windows_records()
    decision = decide(windows_from_enum(records, foreground=foreground), SCREEN, default_rules())
    assert not decision.skip
    assert [item.rule.name for item in decision.excluded] == ["Private browsing: Edge"]
    edge, outlook = Rect(100, 100, 900, 700), Rect(600, 300, 900, 600)
    cut = edge.intersect(outlook)
    assert cut is not None
    assert sum(r.area for r in decision.regions_on(0)) == edge.area - cut.area
    assert decision.window_title == "Inbox - ana@example.com - Outlook"


def test_windows_focused_password_manager_skips() -> None:
    """With KeePassXC brought to the foreground (uncloaked), the tick is skipped."""
    records, _ = windows_records()
    records = [r._replace(cloaked=0) if r.exe.endswith("KeePassXC.exe") else r for r in records]
    keepass = next(r.hwnd for r in records if r.exe.endswith("KeePassXC.exe"))
    decision = decide(windows_from_enum(records, foreground=keepass), SCREEN, default_rules())
    assert decision.skip
    assert "KeePass" in decision.reasons[0]


def test_windows_lock_state_from_the_input_desktop() -> None:
    """The Default input desktop is unlocked; Winlogon or no input desktop is locked."""
    assert not locked_from_desktop(load("windows_enumwindows.json")["input_desktop"])
    assert locked_from_desktop("Winlogon")
    assert locked_from_desktop(None)
