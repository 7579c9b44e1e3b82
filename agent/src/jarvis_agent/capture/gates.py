"""The time gates: whether a capture may happen at all now (paused, locked, idle, active hours).

Pure functions from facts to a decision with a reason a user understands; the runtime gathers the
facts (pause file, lock probe, idle time, clock) and acts on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

__all__ = [
    "ActiveHours",
    "GateDecision",
    "GateState",
    "PausedUntil",
    "evaluate_gates",
]

PausedUntil = datetime | Literal["indefinitely"] | None

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class ActiveHours(BaseModel):
    """When capturing is allowed: from `start` to `end` on `days` (0 = Monday).

    A span may wrap past midnight (22:00-02:00); the early-morning part then belongs to the day the
    span started on. start == end means the whole day.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time
    end: time
    days: frozenset[int] = frozenset(range(7))

    @field_validator("days")
    @classmethod
    def _valid_days(cls, value: frozenset[int]) -> frozenset[int]:
        bad = sorted(day for day in value if not 0 <= day <= 6)
        if bad:
            raise ValueError(f"days {bad} are not weekdays; use 0 (Monday) to 6 (Sunday)")
        if not value:
            raise ValueError("no days given: list at least one day, 0 (Monday) to 6 (Sunday)")
        return value

    @model_validator(mode="after")
    def _naive_times(self) -> ActiveHours:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("active hours are wall-clock times without a time zone, like 09:00")
        return self

    def contains(self, now: datetime) -> bool:
        """True when `now` (local wall-clock time) is inside the active hours."""
        moment = now.time().replace(tzinfo=None)
        today = now.weekday()
        if self.start == self.end:
            return today in self.days
        if self.start < self.end:
            return today in self.days and self.start <= moment < self.end
        if moment >= self.start:
            return today in self.days
        if moment < self.end:
            return (today - 1) % 7 in self.days
        return False

    def describe(self) -> str:
        days = ",".join(DAY_NAMES[d] for d in sorted(self.days))
        return f"{self.start:%H:%M}-{self.end:%H:%M} on {days}"


class GateState(StrEnum):
    """Why no capture may happen now; the runtime's state machine uses the same names."""

    PAUSED = "paused"
    LOCKED = "locked"
    IDLE = "idle"
    OUTSIDE_HOURS = "outside_hours"


@dataclass(frozen=True, slots=True)
class GateDecision:
    """Whether a capture may happen now, and if not, the state and a reason a user understands."""

    allowed: bool
    state: GateState | None = None
    reason: str = ""


ALLOWED = GateDecision(True)


def evaluate_gates(
    now: datetime,
    *,
    paused_until: PausedUntil,
    locked: bool,
    idle_seconds: float | None,
    idle_threshold: float,
    active_hours: ActiveHours | None,
) -> GateDecision:
    """The global gates, in the order a user would name them: paused, locked, idle, hours.

    `now` is local wall-clock time (aware or naive, compared to `paused_until` in the same kind).
    `idle_seconds` None means "unknown": never treated as idle. `idle_threshold` <= 0 turns the
    idle gate off.
    """
    if paused_until == "indefinitely":
        return GateDecision(False, GateState.PAUSED, "paused until resumed")
    if paused_until is not None and now < paused_until:
        return GateDecision(False, GateState.PAUSED, f"paused until {paused_until:%Y-%m-%d %H:%M}")
    if locked:
        return GateDecision(False, GateState.LOCKED, "screen locked or screensaver on")
    if idle_seconds is not None and idle_threshold > 0 and idle_seconds >= idle_threshold:
        return GateDecision(
            False,
            GateState.IDLE,
            f"no input for {timedelta(seconds=int(idle_seconds))} "
            f"(idle threshold {timedelta(seconds=int(idle_threshold))})",
        )
    if active_hours is not None and not active_hours.contains(now):
        return GateDecision(
            False, GateState.OUTSIDE_HOURS, f"outside active hours ({active_hours.describe()})"
        )
    return ALLOWED
