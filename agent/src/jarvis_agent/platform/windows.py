"""Placeholder: filled in below in this issue."""

from __future__ import annotations

from jarvis_agent.platform.errors import UnsupportedSessionError
from jarvis_agent.platform.types import WindowInfo


class WindowsPlatform:
    def __init__(self) -> None:
        raise UnsupportedSessionError("not implemented yet")

    def windows(self) -> list[WindowInfo]:
        return []

    def active_window(self) -> WindowInfo | None:
        return None

    def idle_seconds(self) -> float | None:
        return None

    def is_locked(self) -> bool:
        return False

    def close(self) -> None:
        return None
