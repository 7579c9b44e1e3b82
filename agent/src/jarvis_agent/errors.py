"""The root of the agent's exceptions: catch `AgentError` to catch any of them.

Each is defined beside the code that raises it and keeps the builtin base callers already knew:

    AgentError
    ├── ConfigError (ValueError)             config: a file or value was rejected
    │   └── ConfigConflictError              config: the file changed under an editor
    ├── DurationError (ValueError)           durations: a pause length could not be read
    ├── AlreadyRunningError (RuntimeError)   runtime.instance_lock: another agent holds the lock
    ├── ServiceError (RuntimeError)          runtime.errors: the agent could not start or act
    ├── ControlError (RuntimeError)          control: the agent could not be asked, or said no
    │   └── AgentNotRunningError
    ├── SwayHotkeyError (ValueError)         sway_hotkey: the hotkey has no sway equivalent
    └── AutostartError                       autostart: start at login could not be changed

The platform layer (jarvis_platform.PlatformError) and the sync side (jarvis_sync.SyncError) have
roots of their own; the agent lets them through, so callers see where a failure came from.
"""

from __future__ import annotations

__all__ = ["AgentError"]


class AgentError(Exception):
    """Something the agent was asked to do failed; the message says what to do."""
