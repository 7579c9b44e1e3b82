"""Jarvis tray app (PySide6): tray icon, settings dialog, recent captures, pause hotkey."""

from importlib.metadata import version as _version

__version__ = _version("jarvis-ui")

__all__ = ["__version__"]
