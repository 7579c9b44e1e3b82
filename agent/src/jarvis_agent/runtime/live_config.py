"""The settings in use, and changing them while the agent runs.

A change is saved (only the keys that differ, on top of the file as it is now) and then handed
to the running parts at once; a reload that finds an invalid file keeps the last good settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from jarvis_agent.config import AgentConfig, ConfigError, ConfigPatch, ConfigStore
from jarvis_agent.runtime.errors import ServiceError
from jarvis_agent.runtime.state import StatusBoard

__all__ = ["LiveConfig"]

log = logging.getLogger("jarvis.service")

_LOGGERS = ("jarvis", "jarvis_agent", "jarvis_sync")


class LiveConfig:
    """Holds the settings in use; `use` hands every new one to the running parts."""

    def __init__(
        self,
        store: ConfigStore,
        board: StatusBoard,
        *,
        use: Callable[[AgentConfig], None],
        set_log_levels: bool,
    ) -> None:
        self._store = store
        self._board = board
        self._use = use
        self._set_log_levels = set_log_levels
        self._config: AgentConfig | None = None

    @property
    def current(self) -> AgentConfig:
        if self._config is None:
            raise ServiceError("the agent service has not been started")
        return self._config

    @property
    def loaded(self) -> bool:
        return self._config is not None

    def load(self) -> AgentConfig:
        """Read the file (raises ConfigError); the result is used once `start` takes it."""
        return self._store.load()

    def take(self, config: AgentConfig) -> None:
        """Use `config` from now on, without applying it to running parts (at start)."""
        self._config = config

    def apply(self, config: AgentConfig) -> None:
        """Save what `config` changes from the settings in use, and use the result at once.

        Only the changed keys are written, on top of the file as it is now, so what another
        writer saved since this agent read the file (a new exclusion rule) is kept and used.
        """
        self._apply(self._store.update(ConfigPatch.between(self.current, config)))

    def reload(self) -> AgentConfig:
        """Re-read the file; on an invalid file keep the last good config and raise ConfigError."""
        try:
            config = self._store.load()
        except ConfigError as exc:
            log.error("config not reloaded, still using the last good one: %s", exc)
            self._board.update(config_error=str(exc))
            raise
        self._apply(config)
        return config

    def _apply(self, config: AgentConfig) -> None:
        self._config = config
        if self._set_log_levels:
            for name in _LOGGERS:
                logging.getLogger(name).setLevel(config.logging.level)
        self._use(config)
        log.info("settings applied")
