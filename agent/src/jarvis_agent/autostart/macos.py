"""macOS: a per-user LaunchAgent that launchd starts at login.

The plist lives in ~/Library/LaunchAgents and names the program by its argv (ProgramArguments), so
no shell ever parses it. launchd reads it at the next login; nothing is loaded now.
"""

from __future__ import annotations

import plistlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from jarvis_agent.autostart._base import AutostartError, AutostartStatus
from jarvis_agent.autostart._files import remove, write_atomically

LAUNCH_AGENT_LABEL = "org.jarvis.Jarvis"


def launch_agent(argv: Sequence[str], *, label: str = LAUNCH_AGENT_LABEL) -> dict[str, Any]:
    """The LaunchAgent for `argv`: run once at login, in the user's GUI session.

    The tray app quits when the user says so and must stay quit, so there is no KeepAlive; the
    headless agent (`run --headless`) is restarted by launchd if it crashes (non-zero exit).
    """
    if not argv:
        raise AutostartError("the command to start at login is empty")
    agent: dict[str, Any] = {
        "Label": label,
        "ProgramArguments": list(argv),
        "RunAtLoad": True,
        "ProcessType": "Interactive",
        "LimitLoadToSessionType": "Aqua",
    }
    if "--headless" in argv:
        agent["KeepAlive"] = {"SuccessfulExit": False}
        agent["ThrottleInterval"] = 30
    return agent


def render(agent: dict[str, Any]) -> bytes:
    """The plist file's bytes (XML, as launchd and `plutil -lint` expect)."""
    return plistlib.dumps(agent, fmt=plistlib.FMT_XML, sort_keys=True)


class LaunchAgentAutostart:
    """The LaunchAgent plist `org.jarvis.Jarvis.plist` in one directory."""

    def __init__(self, directory: Path, label: str = LAUNCH_AGENT_LABEL) -> None:
        self._directory = directory
        self._label = label

    @property
    def path(self) -> Path:
        return self._directory / f"{self._label}.plist"

    @property
    def location(self) -> str:
        return str(self.path)

    def enable(self, command: Sequence[str]) -> AutostartStatus:
        write_atomically(self.path, render(launch_agent(command, label=self._label)))
        return self.status()

    def disable(self) -> bool:
        return remove(self.path)

    def status(self) -> AutostartStatus:
        try:
            with self.path.open("rb") as fh:
                agent = plistlib.load(fh)
        except FileNotFoundError:
            return AutostartStatus(enabled=False, location=self.location)
        except (OSError, plistlib.InvalidFileException, ValueError) as exc:
            raise AutostartError(f"cannot read the LaunchAgent {self.path}: {exc}") from exc
        if not isinstance(agent, dict):
            raise AutostartError(f"{self.path} is not a LaunchAgent (not a dictionary)")
        raw = agent.get("ProgramArguments")
        argv = tuple(str(a) for a in raw) if isinstance(raw, list) else ()
        runs = agent.get("RunAtLoad") is True and agent.get("Disabled") is not True
        enabled = bool(argv) and runs
        return AutostartStatus(enabled=enabled, location=self.location, command=argv or None)
