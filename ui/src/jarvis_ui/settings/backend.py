"""What the settings dialog reads and writes besides widgets: the config file, the running agent,
the keyring, the login item, the open windows and the connection check.

Every member is a plain callable, so the dialog runs against the real pieces in the app and in
tests alike; `default_backend()` wires them to jarvis_agent and jarvis_sync.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from jarvis_agent.config import AgentConfig, ConfigError, ConfigStore
from jarvis_ui.connection import ConnectionResult, check_connection


@dataclass
class SettingsBackend:
    store: ConfigStore
    # Called on the GUI thread after the file is written: hand the config to the running agent.
    apply_config: Callable[[AgentConfig], None] | None = None
    # The keyring: is a token stored / store this one. Run on a worker thread.
    token_stored: Callable[[], bool] | None = None
    store_token: Callable[[str], None] | None = None
    load_token: Callable[[], str | None] | None = None
    # Start at login: read / set. Run on a worker thread.
    autostart_enabled: Callable[[], bool] | None = None
    set_autostart: Callable[[bool], None] | None = None
    list_windows: Callable[[], Sequence[Any]] | None = None
    # How the pause hotkey `spec` works on this desktop, as one line. Run on a worker thread.
    hotkey_status: Callable[[str], str] | None = None

    def check_connection(self, url: str, typed_token: str | None) -> ConnectionResult:
        """Test with the token being typed, else the stored one (worker thread)."""
        token = typed_token
        if token is None and self.load_token is not None:
            token = self.load_token()
        try:
            allow = self.store.load().server.allow_insecure_http
        except ConfigError:
            allow = False  # fail closed: the opt-in cannot be read
        return check_connection(url, token, allow_insecure_http=allow)


def _autostart_enabled() -> bool:
    from jarvis_agent.autostart import autostart_for_platform

    return autostart_for_platform().status().enabled


def _set_autostart(enabled: bool) -> None:
    from jarvis_agent.autostart import autostart_for_platform, launch_command

    writer = autostart_for_platform()
    if enabled:
        writer.enable(launch_command())
    else:
        writer.disable()


def _list_windows() -> Sequence[Any]:
    from jarvis_platform import get_platform

    # Menus and tooltips (popups) come and go with their windows: rules name the windows.
    return [w for w in get_platform().windows() if not w.hidden and not w.popup]


def default_backend(
    store: ConfigStore | None = None,
    apply_config: Callable[[AgentConfig], None] | None = None,
    hotkey_status: Callable[[str], str] | None = None,
) -> SettingsBackend:
    """The real pieces: config file, keyring (jarvis_sync.credentials), autostart, platform."""
    from jarvis_sync import credentials

    return SettingsBackend(
        store=store if store is not None else ConfigStore(),
        apply_config=apply_config,
        token_stored=lambda: credentials.load_token() is not None,
        store_token=credentials.store_token,
        load_token=credentials.load_token,
        autostart_enabled=_autostart_enabled,
        set_autostart=_set_autostart,
        list_windows=_list_windows,
        hotkey_status=hotkey_status,
    )
