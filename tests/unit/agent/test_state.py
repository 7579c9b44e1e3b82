"""The status board: snapshots, subscribers, JSON round trip."""

from __future__ import annotations

from datetime import UTC, datetime

from jarvis_agent.capture.gates import GateState
from jarvis_agent.runtime.state import (
    AgentState,
    AgentStatus,
    StatusBoard,
    SyncSummary,
    status_from_json,
    status_to_json,
)


def test_subscribers_hear_changes_only() -> None:
    """A subscriber is called when something changed, not for a no-op, and can unsubscribe."""
    board = StatusBoard()
    seen: list[AgentStatus] = []
    unsubscribe = board.subscribe(seen.append)
    board.update(state=AgentState.PAUSED, reasons=("paused until resumed",))
    board.update(state=AgentState.PAUSED, reasons=("paused until resumed",))
    board.count(captured=2, redacted=1)
    unsubscribe()
    board.count(captured=1)
    assert [s.state for s in seen] == [AgentState.PAUSED, AgentState.PAUSED]
    assert seen[-1].counters.captured == 2
    assert board.snapshot().counters.captured == 3


def test_a_failing_subscriber_does_not_stop_others() -> None:
    """One broken listener (say, a closed window) does not break the agent or other listeners."""
    board = StatusBoard()
    seen: list[AgentStatus] = []

    def broken(status: AgentStatus) -> None:
        raise RuntimeError("boom")

    board.subscribe(broken)
    board.subscribe(seen.append)
    board.update(state=AgentState.IDLE)
    assert seen[-1].state is AgentState.IDLE


def test_status_json_round_trip() -> None:
    """The status crosses the control socket as JSON and comes back equal."""
    status = AgentStatus(
        state=AgentState.OUTSIDE_HOURS,
        reasons=("outside active hours (09:00-17:00 on Mon)",),
        paused_until=datetime(2026, 1, 2, 3, 4, tzinfo=UTC),
        sync=SyncSummary(state="offline", queued=3, last_error="connection refused"),
        pid=42,
    )
    data = status_to_json(status)
    assert data["state"] == "outside_hours"
    assert data["paused_until"] == "2026-01-02T03:04:00Z"
    assert status_from_json(data) == status


def test_every_gate_state_is_an_agent_state() -> None:
    """Each reason the policy can give for not capturing is a state the tray and CLI can show.

    The service turns a gate decision into the agent's state by its value; a gate without a
    matching state would make every tick fail instead of showing why nothing is captured.
    """
    assert {gate.value for gate in GateState} <= {state.value for state in AgentState}
