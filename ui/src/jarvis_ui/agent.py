"""What the tray needs of the agent service (jarvis_agent.runtime.service.AgentService provides it).

Written as a Protocol so the tray states its needs in one place; the service runs capture and sync
on its own threads, and `subscribe` callbacks arrive on those threads.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from jarvis_agent.config import AgentConfig
from jarvis_agent.runtime.state import AgentStatus


class AgentControl(Protocol):
    def start(self) -> Any: ...

    def stop(self) -> Any: ...

    def status(self) -> AgentStatus: ...

    def subscribe(self, callback: Callable[[AgentStatus], None]) -> Callable[[], None]: ...

    def pause(self, until: datetime | None = None, *, cause: str = "") -> Any: ...

    def resume(self, *, cause: str = "") -> Any: ...

    def capture_now(self) -> Any: ...

    def sync_now(self) -> Any: ...

    def apply_config(self, config: AgentConfig) -> Any: ...

    def recent_captures(self, limit: int = ...) -> Sequence[Any]: ...
