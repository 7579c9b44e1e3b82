"""What travels over the control channel, whatever carries it: one JSON request, one JSON reply.

A `ControlRequest` goes to the agent, a `ControlReply` comes back, as JSON text (never pickles, so
a peer can send data, not code). The errors a caller sees are here too:

    ControlError            the agent could not be asked, or said no
     └── AgentNotRunningError   nothing listens on the control channel

The client's side (this module) needs no pydantic: `jarvis status` and `pause` import it, and
pydantic alone costs several times Python's start-up. The agent validates what it is sent with the
`ControlRequest` model (request.py).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal

from jarvis_agent.errors import AgentError

__all__ = [
    "MAX_MESSAGE",
    "AgentNotRunningError",
    "Command",
    "ControlError",
    "ControlReply",
    "encode_request",
]

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


@dataclass(frozen=True, slots=True)
class ControlReply:
    """The agent's answer: ok, a message for the user, and the status after the command."""

    ok: bool
    message: str = ""
    status: dict[str, Any] | None = None

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> ControlReply:
        """The reply in `raw`; ValueError if it is not one. Unknown fields are ignored."""
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("a reply is a JSON object")
        ok, message, status = data.get("ok"), data.get("message", ""), data.get("status")
        if not isinstance(ok, bool):
            raise ValueError("ok: a boolean is required")
        if not isinstance(message, str):
            raise ValueError("message: a string is required")
        if status is not None and not isinstance(status, dict):
            raise ValueError("status: an object or null is required")
        return cls(ok=ok, message=message, status=status)


def encode_request(command: Command, until: datetime | None = None) -> bytes:
    """The JSON text of one request, as the agent's `ControlRequest` reads it."""
    if until is not None and until.utcoffset() is None:
        raise ValueError("until: a time with a timezone is required")
    payload = {"command": command, "until": None if until is None else until.isoformat()}
    return json.dumps(payload, separators=(",", ":")).encode()
