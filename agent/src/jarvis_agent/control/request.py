"""The agent's side of the control channel: the request model it validates, and `answer`.

Kept apart from protocol.py because it needs pydantic, which the client's side does without.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from jarvis_agent.control.protocol import MAX_MESSAGE, Command, ControlReply

__all__ = ["ControlRequest", "Handler", "answer"]

log = logging.getLogger("jarvis.control")


class ControlRequest(BaseModel):
    """One request to the agent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    command: Command
    # For `pause`: when the pause ends; None pauses until `resume`.
    until: AwareDatetime | None = None


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
