"""Start Jarvis at login, the way each platform expects.

    Linux    an XDG autostart entry: $XDG_CONFIG_HOME/autostart/jarvis.desktop
    macOS    a LaunchAgent: ~/Library/LaunchAgents/org.jarvis.Jarvis.plist
    Windows  a value in HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run

Each writer implements `Autostart`; `autostart_for_platform()` picks the one for this machine and
`launch_command()` says what to start. The file and value builders are pure functions, so every
platform's output is tested on any platform.
"""

from jarvis_agent.autostart._base import Autostart, AutostartError, AutostartStatus
from jarvis_agent.autostart._command import launch_command
from jarvis_agent.autostart._select import autostart_for_platform
from jarvis_agent.autostart.linux import XdgAutostart, desktop_entry, exec_quote, exec_unquote
from jarvis_agent.autostart.macos import LAUNCH_AGENT_LABEL, LaunchAgentAutostart, launch_agent
from jarvis_agent.autostart.windows import (
    RUN_KEY,
    RUN_VALUE_NAME,
    RegistryStore,
    RunKeyAutostart,
    run_value,
    split_run_value,
)

__all__ = [
    "LAUNCH_AGENT_LABEL",
    "RUN_KEY",
    "RUN_VALUE_NAME",
    "Autostart",
    "AutostartError",
    "AutostartStatus",
    "LaunchAgentAutostart",
    "RegistryStore",
    "RunKeyAutostart",
    "XdgAutostart",
    "autostart_for_platform",
    "desktop_entry",
    "exec_quote",
    "exec_unquote",
    "launch_agent",
    "launch_command",
    "run_value",
    "split_run_value",
]
