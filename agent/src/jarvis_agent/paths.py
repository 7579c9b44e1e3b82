"""Where the agent keeps its files.

JARVIS_HOME relocates everything under one directory (tests and side-by-side installs use it);
otherwise the platform's conventional directories are used (platformdirs).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "jarvis"


@dataclass(frozen=True, slots=True)
class AgentPaths:
    """The agent's directories; nothing is created until `ensure()` is called."""

    config_dir: Path
    data_dir: Path
    log_dir: Path
    runtime_dir: Path

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def server_identity_key(self) -> Path:
        """The key a local server started by `jarvis up` proves itself with (0600)."""
        return self.data_dir / "server-identity.key"

    @property
    def local_server_record(self) -> Path:
        """Which server `jarvis up` started and which process owns it (for adoption)."""
        return self.runtime_dir / "local-server.json"

    @property
    def audit_log(self) -> Path:
        return self.log_dir / "audit.jsonl"

    @property
    def agent_log(self) -> Path:
        return self.log_dir / "agent.log"

    @property
    def sway_hotkey_record(self) -> Path:
        """What `jarvis hotkey sway --apply` added to which running sway (Settings reads it)."""
        return self.runtime_dir / "sway-hotkey.json"

    @property
    def control_socket(self) -> Path:
        return self.runtime_dir / "agent.sock"

    @property
    def lock_file(self) -> Path:
        return self.runtime_dir / "agent.lock"

    def ensure(self) -> AgentPaths:
        """Create the directories, readable by the user only (captures and logs are private)."""
        for path in (self.config_dir, self.data_dir, self.log_dir, self.runtime_dir):
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self


def jarvis_home() -> Path | None:
    """The JARVIS_HOME directory when set, else None."""
    value = os.environ.get("JARVIS_HOME", "").strip()
    return Path(value).expanduser().resolve() if value else None


def agent_paths() -> AgentPaths:
    """The agent's directories for this user, honouring JARVIS_HOME."""
    home = jarvis_home()
    if home is not None:
        return AgentPaths(
            config_dir=home / "config",
            data_dir=home / "data",
            log_dir=home / "logs",
            runtime_dir=home / "run",
        )
    data_dir = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    # Without XDG_RUNTIME_DIR (ssh sessions, cron, containers) platformdirs falls back to a shared
    # /tmp path and warns on every command; a private directory under the data dir is safer.
    if sys.platform.startswith("linux") and not os.environ.get("XDG_RUNTIME_DIR"):
        runtime_dir = data_dir / "run"
    else:
        runtime_dir = Path(platformdirs.user_runtime_dir(APP_NAME, appauthor=False))
    return AgentPaths(
        config_dir=Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        data_dir=data_dir,
        log_dir=Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
        runtime_dir=runtime_dir,
    )
