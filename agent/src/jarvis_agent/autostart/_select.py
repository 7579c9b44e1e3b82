"""Pick the start-at-login writer for a platform."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from jarvis_agent.autostart._base import Autostart, AutostartError
from jarvis_agent.autostart.linux import XdgAutostart
from jarvis_agent.autostart.macos import LaunchAgentAutostart
from jarvis_agent.autostart.windows import RunKeyAutostart


def autostart_for_platform(
    platform: str | None = None, environ: Mapping[str, str] | None = None
) -> Autostart:
    """The writer for `platform` (default: this one), with directories taken from `environ`."""
    platform = sys.platform if platform is None else platform
    env = os.environ if environ is None else environ
    if platform == "win32":
        return RunKeyAutostart()
    home_value = env.get("HOME", "").strip()
    home = Path(home_value) if home_value else Path.home()
    if platform == "darwin":
        return LaunchAgentAutostart(home / "Library" / "LaunchAgents")
    if platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        config_dirs = env.get("XDG_CONFIG_DIRS", "").strip() or "/etc/xdg"
        system = [Path(d) / "autostart" for d in config_dirs.split(":") if Path(d).is_absolute()]
        return XdgAutostart(XdgAutostart.directory_for(env, home), system)
    raise AutostartError(f"start at login is not supported on {platform}")
