"""What travels over the control channel, whatever carries it: one JSON request, one JSON reply.

A `ControlRequest` goes to the agent, a `ControlReply` comes back (pydantic models, serialised as
JSON text; never pickles, so a peer can send data, not code). The errors a caller sees are here too:

    ControlError            the agent could not be asked, or said no
     └── AgentNotRunningError   nothing listens on the control channel
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from jarvis_agent.errors import AgentError

__all__ = [
    "MAX_MESSAGE",
    "AgentNotRunningError",
    "Command",
    "ControlError",
    "ControlReply",
    "ControlRequest",
    "Handler",
    "answer",
]

log = logging.getLogger("jarvis.control")

Command = Literal["ping", "status", "pause", "resume", "capture-now", "sync-now", "reload-config"]
# A request is a few dozen bytes; a reply carries the status (a few KB). The cap keeps a confused
# peer from making either side buffer without bound.
MAX_MESSAGE = 64 * 1024


class ControlError(AgentError, RuntimeError):
    """The agent could not be asked, or said no; the message says what to do."""


class AgentNotRunningError(ControlError):
    """No agent is listening on the control channel."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(
            f"the Jarvis agent is not running (nothing listens on its {endpoint}); "
            "start it with `jarvis run --headless` or the tray app (`jarvis up`)"
        )
        self.endpoint = endpoint


class ControlRequest(BaseModel):
    """One request to the agent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: Command
    # For `pause`: when the pause ends; None pauses until `resume`.
    until: AwareDatetime | None = None


class ControlReply(BaseModel):
    """The agent's answer: ok, a message for the user, and the status after the command."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    ok: bool
    message: str = ""
    status: dict[str, Any] | None = None


Handler = Callable[[ControlRequest], ControlReply]


def answer(raw: bytes, handler: Handler) -> ControlReply:
    """The reply to one raw request: the handler's, or an error naming what was wrong with it."""
    if len(raw) > MAX_MESSAGE:
        return ControlReply(ok=False, message="request too long")
    try:
        request = ControlRequest.model_validate_json(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}" for e in exc.errors()
        )
        return ControlReply(ok=False, message=f"bad request: {problems}")
    try:
        return handler(request)
    except Exception as exc:
        log.exception("control command %s failed", request.command)
        return ControlReply(ok=False, message=f"{request.command} failed: {exc}")
