"""The settings dialog and its tabs."""

from jarvis_ui.settings.backend import SettingsBackend, default_backend
from jarvis_ui.settings.dialog import SettingsDialog

__all__ = ["SettingsBackend", "SettingsDialog", "default_backend"]
