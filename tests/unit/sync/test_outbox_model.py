"""A hypothesis state machine drives the real outbox and a simple model side by side."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from uuid import UUID

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
)

from jarvis_sync import Outbox
from jarvis_sync.cipher import new_key

from .factory import metadata_for, png_bytes


class OutboxModel(RuleBasedStateMachine):
    """Model: capture id -> (state, bytes). Every operation must keep the outbox equal to it."""

    queued = Bundle("queued")

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="outbox-model-"))
        self.key = new_key()
        self.ticks = 0.0
        self.outbox = Outbox.open(self.directory, key=self.key, clock=self.clock)
        self.state: dict[UUID, str] = {}
        self.due: dict[UUID, float] = {}  # 0 = never tried; else the order it fell due in
        self.retries = 0
        self.data: dict[UUID, bytes] = {}
        self.sent = 0

    def clock(self) -> float:
        """A clock that moves on at every reading, so retry times are strictly ordered."""
        self.ticks += 1.0
        return 1_000_000.0 + self.ticks

    @rule(target=queued, seed=st.binary(min_size=1, max_size=64))
    def put(self, seed: bytes) -> UUID:
        data = png_bytes(8, 8, seed=seed + bytes(len(self.data)))
        metadata = metadata_for(data, width=8, height=8)
        self.outbox.put(metadata, data)
        self.state[metadata.id] = "pending"
        self.data[metadata.id] = data
        self.due[metadata.id] = 0
        return metadata.id

    @rule(limit=st.integers(1, 4))
    def claim(self, limit: int) -> None:
        claimed = self.outbox.claim(limit)
        order = list(self.data)
        pending = sorted(
            (i for i, s in self.state.items() if s == "pending"),
            key=lambda i: (self.due[i], order.index(i)),
        )
        assert [e.id for e in claimed] == pending[:limit]  # untried oldest first, then retries
        for entry in claimed:
            self.state[entry.id] = "in_flight"

    @rule(capture_id=consumes(queued))
    def ack(self, capture_id: UUID) -> None:
        if self.state.get(capture_id) != "in_flight":
            return
        self.outbox.ack(capture_id)
        del self.state[capture_id]
        self.sent += 1

    @rule(capture_id=queued)
    def retry_later(self, capture_id: UUID) -> None:
        if self.state.get(capture_id) != "in_flight":
            return
        self.outbox.retry_later(capture_id, "HTTP 503", 0.0)
        self.state[capture_id] = "pending"
        self.retries += 1
        self.due[capture_id] = self.retries

    @rule(capture_id=queued)
    def bury(self, capture_id: UUID) -> None:
        if self.state.get(capture_id) != "in_flight":
            return
        self.outbox.bury(capture_id, "HTTP 422")
        self.state[capture_id] = "dead"

    @rule()
    def retry_dead(self) -> None:
        dead = [i for i, s in self.state.items() if s == "dead"]
        assert self.outbox.retry_dead() == len(dead)
        for capture_id in dead:
            self.state[capture_id] = "pending"
            self.due[capture_id] = 0

    @rule(dead_only=st.booleans())
    def purge(self, dead_only: bool) -> None:
        doomed = [
            i for i, s in self.state.items() if s == "dead" or (not dead_only and s == "pending")
        ]
        assert self.outbox.purge(dead_only=dead_only) == len(doomed)
        for capture_id in doomed:
            del self.state[capture_id]

    @rule()
    def restart(self) -> None:
        self.outbox.close()
        self.outbox = Outbox.open(self.directory, key=self.key, clock=self.clock)
        for capture_id, state in self.state.items():
            if state == "in_flight":
                self.state[capture_id] = "pending"

    @invariant()
    def same_as_model(self) -> None:
        stats = self.outbox.stats()
        counts = {
            s: sum(1 for v in self.state.values() if v == s)
            for s in ("pending", "in_flight", "dead")
        }
        assert (stats.pending, stats.in_flight, stats.dead) == (
            counts["pending"],
            counts["in_flight"],
            counts["dead"],
        )
        assert stats.sent_total == self.sent
        assert {e.id: e.state for e in self.outbox.entries(limit=10_000)} == self.state
        blobs = {p.stem for p in (self.directory / "blobs").iterdir()}
        assert blobs == {str(i) for i in self.state}

    @invariant()
    def bytes_read_back(self) -> None:
        for capture_id in list(self.state)[:3]:
            assert self.outbox.read(capture_id) == self.data[capture_id]

    def teardown(self) -> None:
        self.outbox.close()
        shutil.rmtree(self.directory, ignore_errors=True)


OutboxModel.TestCase.settings = settings(max_examples=40, stateful_step_count=30, deadline=None)
test_outbox_matches_model = OutboxModel.TestCase
test_outbox_matches_model.__doc__ = (
    "Any sequence of put, claim, ack, retry, bury, retry-dead, purge and restart keeps the "
    "outbox's rows, counts, blobs and bytes equal to a simple in-memory model."
)
