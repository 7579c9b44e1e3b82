"""The root of the tray app's exceptions: catch `UIError` to catch any of them.

UIError
├── HotkeyError (ValueError)       shortcut: a combination that cannot be the pause hotkey
├── NoDisplayError (RuntimeError)  startup: the tray app cannot run in this session
└── UpError (RuntimeError)         up: `jarvis up` could not start or trust the local server
"""

from __future__ import annotations

__all__ = ["UIError"]


class UIError(Exception):
    """The tray app could not do what was asked; the message says what to do."""
