"""The status board: snapshots, subscribers, JSON round trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from jarvis_agent.capture.gates import GateState
from jarvis_agent.runtime.state import (
    AgentState,
    AgentStatus,
    Counters,
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


def test_every_status_field_survives_the_round_trip() -> None:
    """A status with every field set (times, counters, sync figures) comes back equal, so the
    hand-written reader `jarvis status` uses misses nothing the agent writes."""
    when = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    status = AgentStatus(
        state=AgentState.PAUSED,
        reasons=("paused", "until 17:00"),
        paused_until=when,
        counters=Counters(captured=1, skipped=2, redacted=3, dropped=4, unchanged=5),
        sync=SyncSummary(
            state="sending",
            queued=6,
            queued_bytes=7,
            dead=8,
            evicted=9,
            last_success_at=when,
            last_error="boom",
            server_url="https://jarvis.example",
        ),
        last_capture_at=when,
        next_capture_at=when,
        interval_seconds=30.0,
        pid=10,
        started_at=when,
        config_error="bad key",
    )
    assert status_from_json(json.loads(json.dumps(status_to_json(status)))) == status


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ([], "status"),
        ({"state": "dancing"}, "dancing"),
        ({"counters": {"captured": "many"}}, "captured"),
        ({"paused_until": "2026-01-02T03:04:00"}, "paused_until"),
        ({"reasons": [1]}, "reasons"),
    ],
)
def test_a_malformed_status_is_refused_naming_the_field(data: object, field: str) -> None:
    """What is not a status the agent wrote raises ValueError naming the field."""
    with pytest.raises(ValueError, match=field):
        status_from_json(data)
