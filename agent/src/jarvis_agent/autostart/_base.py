"""What every start-at-login writer offers, and what it reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from jarvis_agent.errors import AgentError


class AutostartError(AgentError):
    """Start at login could not be read or changed; the message says what to do."""


@dataclass(frozen=True, slots=True)
class AutostartStatus:
    """Whether Jarvis starts at login, where that is recorded, and the command that runs."""

    enabled: bool
    location: str
    command: tuple[str, ...] | None = None


class Autostart(Protocol):
    """One platform's way to start a program at login."""

    @property
    def location(self) -> str:
        """Where the entry lives (a file path or a registry value), for messages."""
        ...

    def enable(self, command: Sequence[str]) -> AutostartStatus:
        """Start `command` (argv) at every login from now on; replaces an older entry."""
        ...

    def disable(self) -> bool:
        """Stop starting at login; True if an entry was removed, False if there was none."""
        ...

    def status(self) -> AutostartStatus:
        """Read the entry back as the platform will."""
        ...
