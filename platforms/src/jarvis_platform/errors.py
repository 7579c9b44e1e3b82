"""Errors of the platform layer.

PlatformError                 the window system could not be read
 +-- UnsupportedSessionError  this session cannot be captured (Wayland, no display, other OS)
"""

from __future__ import annotations

__all__ = ["PlatformError", "UnsupportedSessionError"]


class PlatformError(RuntimeError):
    """The window system could not be read; the message says what failed and what to do."""


class UnsupportedSessionError(PlatformError):
    """This desktop session cannot be captured; the message says why and what is needed."""
