"""The agent's state machine and the status it publishes to the tray and the CLI.

`StatusBoard` holds the current state, its reasons, the pause and the counters under one lock,
and calls subscribers with a fresh frozen `AgentStatus` whenever anything a user would see changes.
Subscribers are called on the thread that made the change (scheduler or sync worker); the tray
marshals to Qt itself.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import TypeAdapter

__all__ = [
    "AgentState",
    "AgentStatus",
    "Counters",
    "StatusBoard",
    "SyncSummary",
    "status_from_json",
    "status_to_json",
]

log = logging.getLogger("jarvis.state")


class AgentState(StrEnum):
    """What the agent is doing, as the tray icon shows it."""

    CAPTURING = "capturing"
    PAUSED = "paused"
    IDLE = "idle"
    LOCKED = "locked"
    OUTSIDE_HOURS = "outside_hours"
    ERROR = "error"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Counters:
    """Since the start: frames stored, ticks skipped, windows blacked out, frames dropped."""

    captured: int = 0
    skipped: int = 0
    redacted: int = 0
    dropped: int = 0
    unchanged: int = 0


@dataclass(frozen=True, slots=True)
class SyncSummary:
    """The sync worker's and outbox's figures, as the status shows them."""

    state: str = "idle"
    queued: int = 0
    queued_bytes: int = 0
    dead: int = 0
    evicted: int = 0
    last_success_at: datetime | None = None
    last_error: str | None = None
    server_url: str | None = None


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """A snapshot of the agent for the tray, `jarvis status` and the control socket."""

    state: AgentState = AgentState.STOPPED
    reasons: tuple[str, ...] = ()
    paused_until: datetime | None = None
    counters: Counters = field(default_factory=Counters)
    sync: SyncSummary = field(default_factory=SyncSummary)
    last_capture_at: datetime | None = None
    next_capture_at: datetime | None = None
    interval_seconds: float | None = None
    pid: int | None = None
    started_at: datetime | None = None
    config_error: str | None = None

    @property
    def paused(self) -> bool:
        return self.state is AgentState.PAUSED


@cache
def _adapter() -> TypeAdapter[AgentStatus]:
    # Built on first use: only the agent writes the status; `jarvis status` reads it without it.
    from pydantic import TypeAdapter

    return TypeAdapter(AgentStatus)


def status_to_json(status: AgentStatus) -> dict[str, Any]:
    """The status as plain JSON types (datetimes as RFC 3339 strings)."""
    result: dict[str, Any] = _adapter().dump_python(status, mode="json")
    return result


def status_from_json(data: object) -> AgentStatus:
    """The inverse of `status_to_json`; ValueError naming the field if `data` is not a status.

    Read by hand rather than with pydantic: `jarvis status` reads it, and pydantic alone costs
    several times Python's start-up. Missing fields take their defaults; unknown ones are ignored.
    """
    status = _fields(data, "status")
    counters = _fields(status.get("counters", {}), "counters")
    sync = _fields(status.get("sync", {}), "sync")
    state = _typed(status, "state", str, AgentState.STOPPED.value)
    reasons = _typed(status, "reasons", list, [])
    if not all(isinstance(reason, str) for reason in reasons):
        raise ValueError("status.reasons: a list of strings is required")
    interval = _typed(status, "interval_seconds", (int, float), None)
    counts = {name: _typed(counters, name, int, 0) for name in Counters.__dataclass_fields__}
    return AgentStatus(
        state=AgentState(state),
        reasons=tuple(reasons),
        paused_until=_time(status, "paused_until"),
        counters=Counters(**counts),
        sync=SyncSummary(
            state=_typed(sync, "state", str, "idle"),
            queued=_typed(sync, "queued", int, 0),
            queued_bytes=_typed(sync, "queued_bytes", int, 0),
            dead=_typed(sync, "dead", int, 0),
            evicted=_typed(sync, "evicted", int, 0),
            last_success_at=_time(sync, "last_success_at"),
            last_error=_typed(sync, "last_error", str, None),
            server_url=_typed(sync, "server_url", str, None),
        ),
        last_capture_at=_time(status, "last_capture_at"),
        next_capture_at=_time(status, "next_capture_at"),
        interval_seconds=None if interval is None else float(interval),
        pid=_typed(status, "pid", int, None),
        started_at=_time(status, "started_at"),
        config_error=_typed(status, "config_error", str, None),
    )


def _fields(data: object, where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: an object is required")
    return data


def _typed(data: dict[str, Any], key: str, kind: type | tuple[type, ...], default: Any) -> Any:
    value = data.get(key, default)
    # bool is an int in Python, never a count here.
    if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
        raise ValueError(f"{key}: {value!r} is not of the expected type")
    return value


def _time(data: dict[str, Any], key: str) -> datetime | None:
    value = _typed(data, key, str, None)
    if value is None:
        return None
    when = datetime.fromisoformat(value)
    if when.utcoffset() is None:
        raise ValueError(f"{key}: {value!r} has no timezone")
    return when


class StatusBoard:
    """The one mutable copy of the agent's status; every change goes through here."""

    def __init__(self, initial: AgentStatus | None = None) -> None:
        self._status = initial or AgentStatus()
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[AgentStatus], None]] = []

    def snapshot(self) -> AgentStatus:
        with self._lock:
            return self._status

    def subscribe(self, callback: Callable[[AgentStatus], None]) -> Callable[[], None]:
        """Call `callback(status)` on every change; returns a function that unsubscribes."""
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock, contextlib.suppress(ValueError):
                self._subscribers.remove(callback)

        return unsubscribe

    def update(self, **changes: Any) -> AgentStatus:
        """Replace fields of the status; subscribers hear of it when something changed."""
        return self._apply(lambda status: replace(status, **changes))

    def count(self, **increments: int) -> AgentStatus:
        """Add to the counters, e.g. count(captured=1, redacted=2)."""

        def add(status: AgentStatus) -> AgentStatus:
            counters = status.counters
            values = {k: getattr(counters, k) + v for k, v in increments.items()}
            return replace(status, counters=replace(counters, **values))

        return self._apply(add)

    def _apply(self, change: Callable[[AgentStatus], AgentStatus]) -> AgentStatus:
        with self._lock:
            new = change(self._status)
            changed = new != self._status
            self._status = new
            subscribers = list(self._subscribers)
        if changed:  # outside the lock: a subscriber may ask for the status again
            self._publish(new, subscribers)
        return new

    def _publish(
        self, status: AgentStatus, subscribers: list[Callable[[AgentStatus], None]]
    ) -> None:
        for callback in subscribers:
            try:
                callback(status)
            except Exception:  # a broken subscriber must not stop the agent
                log.exception("a status subscriber failed")
