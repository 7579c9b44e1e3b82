"""One tick: read the pause once, check the gates, run the pipeline, publish what happened.

Runs on the scheduler's worker. A failure of the window system, the outbox or anything else ends
the tick in the "error" state with a message, never with an exception out of the worker.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jarvis_agent.capture.audit import AuditLog
from jarvis_agent.capture.gates import evaluate_gates
from jarvis_agent.capture.pipeline import WINDOW_CHANGE_TRIGGER, CapturePipeline, TickResult
from jarvis_agent.config import AgentConfig
from jarvis_agent.runtime.memory import release_free_memory
from jarvis_agent.runtime.pause import PauseReading, PauseStore
from jarvis_agent.runtime.platform_slot import PlatformSlot
from jarvis_agent.runtime.state import AgentState, StatusBoard, SyncSummary
from jarvis_platform import PlatformError
from jarvis_sync.errors import SyncError

__all__ = ["CAPTURE_NOW", "WINDOW_CHANGE", "TickOutcome", "TickRunner"]

log = logging.getLogger("jarvis.service")

Clock = Callable[[], datetime]
CAPTURE_NOW = "capture-now"
WINDOW_CHANGE = WINDOW_CHANGE_TRIGGER


@dataclass(frozen=True, slots=True)
class TickOutcome:
    """What one tick did, in words for `jarvis capture-now` and the tray."""

    captured: int
    message: str
    state: AgentState


class TickRunner:
    """Runs ticks with the collaborators it is given; holds no state between ticks."""

    def __init__(
        self,
        *,
        clock: Clock,
        config: Callable[[], AgentConfig],
        pause: PauseStore,
        board: StatusBoard,
        slot: PlatformSlot,
        audit: Callable[[], AuditLog | None],
        sync_summary: Callable[[], SyncSummary],
        captured_at: Callable[[float], None],
        after_tick: Callable[[], None],
    ) -> None:
        """`captured_at(monotonic)` hears when a capture started (the window-change trigger's
        gap counts from it); `after_tick()` runs after every tick (to publish the next one)."""
        self._clock = clock
        self._config = config
        self._pause = pause
        self._board = board
        self._slot = slot
        self._audit = audit
        self._sync_summary = sync_summary
        self._captured_at = captured_at
        self._after_tick = after_tick

    def tick(self, reason: str) -> TickOutcome:
        now = self._clock()
        config = self._config()
        try:
            outcome = self._run(reason, now, config)
        except PlatformError as exc:
            outcome = self.fail(f"the window system: {exc}", reset_platform=True)
        except SyncError as exc:  # the outbox refused the frame (full, disk error): no traceback
            outcome = self.fail(f"the outbox: {exc}", reset_platform=False)
        except Exception as exc:
            log.exception("capture (%s) failed", reason)
            outcome = self.fail(f"{type(exc).__name__}: {exc}", reset_platform=False)
        self._after_tick()
        return outcome

    def fail(self, message: str, *, reset_platform: bool) -> TickOutcome:
        """Record a failure; with `reset_platform`, re-open the platform on the next tick."""
        log.error("capture failed: %s", message)
        if reset_platform:
            self._slot.reset()
        self._board.update(state=AgentState.ERROR, reasons=(message,))
        return TickOutcome(0, f"capture failed: {message}", AgentState.ERROR)

    def _run(self, reason: str, now: datetime, config: AgentConfig) -> TickOutcome:
        pause = self._pause.read(now)  # the one read of the pause this tick
        paused = pause.until
        pipeline: CapturePipeline | None = None
        if paused is not None:
            gate = evaluate_gates(
                now,
                paused_until=paused,
                locked=False,
                idle_seconds=None,
                idle_threshold=0,
                active_hours=None,
            )
        else:
            pipeline = self._slot.pipeline()
            platform = self._slot.platform()
            gate = evaluate_gates(
                now,
                paused_until=None,
                locked=platform.is_locked(),
                idle_seconds=platform.idle_seconds(),
                idle_threshold=config.privacy.idle_threshold_seconds,
                active_hours=config.privacy.active_hours,
            )
        if not gate.allowed:
            assert gate.state is not None
            state = AgentState(gate.state.value)
            self._publish(
                pause,
                state=state,
                reasons=(gate.reason,),
                paused_until=paused if isinstance(paused, datetime) else None,
            )
            self._board.count(skipped=1)
            audit = self._audit()
            if audit is not None:
                # A stable reason lets the audit log fold a long idle spell into one line.
                why = "idle past the threshold" if state is AgentState.IDLE else gate.reason
                audit.record("skipped", (why,), at=now, trigger=reason)
            return TickOutcome(0, f"not captured: {gate.reason}", state)

        assert pipeline is not None
        started = time.monotonic()  # the window-change gate's clock
        try:
            result = pipeline.capture(force=reason == CAPTURE_NOW, reason=reason)
        finally:
            pipeline.release_memory()
            release_free_memory()
        self._captured_at(started)
        return self._record(result, now, pause)

    def _record(self, result: TickResult, now: datetime, pause: PauseReading) -> TickOutcome:
        captured = len(result.captured)
        unchanged = sum(1 for monitor, _ in result.skipped if monitor is not None)
        self._board.count(
            captured=captured,
            redacted=result.redacted_regions if captured else 0,
            dropped=1 if result.dropped else 0,
            skipped=1 if not captured and not result.dropped else 0,
            unchanged=unchanged if not captured else 0,
        )
        if captured:
            message = f"captured {captured} frame{'s' if captured != 1 else ''}"
            if result.redacted_regions:
                message += f", {result.redacted_regions} excluded region(s) blacked out"
        elif result.dropped:
            message = "frame dropped: " + "; ".join(result.reasons)
        else:
            message = "not captured: " + "; ".join(why for _, why in result.skipped)
        changes: dict[str, Any] = {
            "state": AgentState.CAPTURING,
            "reasons": (message,),
            "paused_until": None,
            "sync": self._sync_summary(),
        }
        if captured:
            changes["last_capture_at"] = now
        self._publish(pause, **changes)
        return TickOutcome(captured, message, AgentState.CAPTURING)

    def _publish(self, pause: PauseReading, **changes: Any) -> None:
        """Publish what the tick found. If the user paused or resumed while a capture ran, the
        state and reason that pause or resume published stand; only the other figures change."""
        if pause.until is None and self._pause.changed_since(pause):
            for key in ("state", "reasons", "paused_until"):
                changes.pop(key, None)
        if changes:
            self._board.update(**changes)
