"""What the tray says about each agent status: icon, menu headline and tooltip."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from jarvis_agent.runtime.state import AgentState, AgentStatus, SyncSummary
from jarvis_ui.icons import TrayState
from jarvis_ui.presentation import ago, capture_line, headline, tooltip, tray_state

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
SERVER = "https://jarvis.example.com"


def _status(agent: AgentState = AgentState.CAPTURING, **sync: object) -> AgentStatus:
    summary = SyncSummary(**{"server_url": SERVER, **sync})  # type: ignore[arg-type]
    return AgentStatus(state=agent, sync=summary)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (_status(), TrayState.CAPTURING),
        (_status(AgentState.PAUSED), TrayState.PAUSED),
        (_status(AgentState.IDLE), TrayState.IDLE),
        (_status(AgentState.LOCKED), TrayState.IDLE),
        (_status(AgentState.OUTSIDE_HOURS), TrayState.IDLE),
        (_status(state="offline", queued=4), TrayState.OFFLINE),
        (_status(state="syncing", queued=40), TrayState.SYNCING),
        (_status(state="syncing", queued=0), TrayState.CAPTURING),
        (_status(state="auth_required"), TrayState.ATTENTION),
        (_status(AgentState.ERROR), TrayState.ATTENTION),
        (_status(AgentState.PAUSED, state="auth_required"), TrayState.ATTENTION),
    ],
)
def test_icon_state_for_each_status(status: AgentStatus, expected: TrayState) -> None:
    """Each agent/sync state maps to its icon; problems the user must fix win over pause."""
    assert tray_state(status) is expected


def test_tooltip_gives_state_queue_and_last_upload() -> None:
    """The tooltip names the state, the queued count and when the last upload succeeded."""
    status = _status(queued=3, last_success_at=NOW - timedelta(minutes=5))
    assert tooltip(status, NOW) == "Jarvis — Capturing\n3 captures queued\nLast upload 5 min ago"


def test_tooltip_without_a_server_says_captures_stay_local() -> None:
    """First run without a server: the tooltip says captures stay in the outbox."""
    status = AgentStatus(state=AgentState.CAPTURING, sync=SyncSummary(queued=1))
    assert "1 capture queued" in tooltip(status, NOW)
    assert "No server set" in tooltip(status, NOW)


def test_headline_explains_pauses_and_problems() -> None:
    """The menu's first line says until when Jarvis is paused, or what needs attention."""
    until = NOW + timedelta(hours=1)
    paused = AgentStatus(state=AgentState.PAUSED, paused_until=until)
    assert headline(paused, NOW) == f"Paused until {until.astimezone():%H:%M}"
    assert headline(AgentStatus(state=AgentState.PAUSED), NOW) == "Paused until you resume"
    auth = _status(state="auth_required", last_error="the server refused the token (401)")
    assert headline(auth, NOW) == "Needs attention: the server refused the token (401)"
    assert headline(_status(AgentState.LOCKED), NOW) == "Screen locked"


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=10), "just now"),
        (timedelta(minutes=59), "59 min ago"),
        (timedelta(hours=3), "3 h ago"),
        (timedelta(days=1), "1 day ago"),
        (timedelta(days=4), "4 days ago"),
    ],
)
def test_relative_times(delta: timedelta, text: str) -> None:
    """Relative times read naturally."""
    assert ago(NOW - delta, NOW) == text


def test_plain_http_to_another_computer_is_shown_as_a_warning() -> None:
    """With the insecure-http opt-in the tooltip warns that captures go unencrypted; https and
    this computer's own http server give no warning."""
    insecure = _status(server_url="http://192.168.1.5:8765")
    assert "⚠ Unencrypted: captures go to 192.168.1.5:8765 over plain http" in tooltip(
        insecure, NOW
    )
    assert "Unencrypted" not in tooltip(_status(), NOW)
    assert "Unencrypted" not in tooltip(_status(server_url="http://127.0.0.1:8765"), NOW)


def test_a_server_the_agent_will_not_trust_needs_attention() -> None:
    """A stranger on the server's port: nothing is sent, the icon asks for attention and the
    headline says why."""
    refused = _status(
        state="untrusted",
        last_error="not sending to http://127.0.0.1:8765: port 8765 is held by uid 1001",
    )
    assert tray_state(refused) is TrayState.ATTENTION
    assert "held by uid 1001" in headline(refused, NOW)


def test_recent_captures_footer_says_whether_capturing_now() -> None:
    """While capturing, the footer says so (the last tick's words are a note, not a reason it
    stopped); paused, idle or offline-but-capturing each read as what they are."""
    capturing = replace(_status(), reasons=("captured 1 frame",))
    assert capture_line(capturing, NOW) == "Capturing now (last capture: captured 1 frame)"
    offline = replace(_status(state="offline", queued=3), reasons=("captured 1 frame",))
    assert capture_line(offline, NOW).startswith("Capturing now")
    paused = replace(_status(AgentState.PAUSED), reasons=("paused until resumed",))
    assert capture_line(paused, NOW) == "Not capturing now: Paused until you resume"
    idle = replace(_status(AgentState.IDLE), reasons=("idle for 10 min",))
    assert capture_line(idle, NOW) == "Not capturing now: Idle (idle for 10 min)"
