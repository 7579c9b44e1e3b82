"""The control channel's commands: what `jarvis pause|resume|capture-now|sync-now|reload-config`
ask of the running agent, answered with a message and the status JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from jarvis_agent.config import AgentConfig, ConfigError
from jarvis_agent.control import ControlReply, ControlRequest
from jarvis_agent.runtime.errors import ServiceError
from jarvis_agent.runtime.state import AgentState, AgentStatus, status_to_json
from jarvis_agent.runtime.tick import TickOutcome

__all__ = ["Commands", "answer"]

_CAPTURE_WAIT = 60.0  # seconds `jarvis capture-now` waits for the capture
_CLI = "the command line"  # who asks over the control channel, for the agent's log


class Commands(Protocol):
    """What the control channel can ask of the agent."""

    def status(self) -> AgentStatus: ...

    def pause(self, until: datetime | None = None, *, cause: str = "") -> AgentStatus: ...

    def resume(self, *, cause: str = "") -> AgentStatus: ...

    def capture_now(self, *, wait: float | None = None) -> TickOutcome | None: ...

    def sync_now(self) -> str: ...

    def reload_config(self) -> AgentConfig: ...


def answer(agent: Commands, request: ControlRequest) -> ControlReply:
    """Carry out one control request; a refusal is a reply with ok=False, never an exception."""
    command = request.command
    message = ""
    try:
        if command == "pause":
            message = agent.pause(request.until, cause=_CLI).reasons[0]
        elif command == "resume":
            agent.resume(cause=_CLI)
            message = "resumed"
        elif command == "capture-now":
            outcome = agent.capture_now(wait=_CAPTURE_WAIT)
            assert outcome is not None
            ok = outcome.state is not AgentState.ERROR
            return ControlReply(ok=ok, message=outcome.message, status=_status(agent))
        elif command == "sync-now":
            message = agent.sync_now()
        elif command == "reload-config":
            agent.reload_config()
            message = "settings reloaded"
    except (ServiceError, ConfigError) as exc:
        return ControlReply(ok=False, message=str(exc), status=_status(agent))
    return ControlReply(ok=True, message=message, status=_status(agent))


def _status(agent: Commands) -> dict[str, Any]:
    return status_to_json(agent.status())
