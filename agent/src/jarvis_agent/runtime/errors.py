"""The runtime's own exception, in a module of its own so every runtime part can raise it."""

from __future__ import annotations

from jarvis_agent.errors import AgentError

__all__ = ["ServiceError"]


class ServiceError(AgentError, RuntimeError):
    """The agent could not start or do what was asked; the message says what to do."""
