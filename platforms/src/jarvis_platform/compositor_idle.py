"""Idle time from the compositor's org_kde_kwin_idle (sway, KWin), connected on first use.

pywayland is imported only when idle time is first asked for; a compositor that offers no idle
protocol is said once in the log and then answers None (the idle threshold does not apply)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jarvis_platform.wlr_idle import IdleWatch

__all__ = ["CompositorIdle"]

log = logging.getLogger(__name__)


class CompositorIdle:
    def __init__(self, wayland_display: str) -> None:
        self._wayland = wayland_display
        self._watch: IdleWatch | None = None
        self._unsupported = False

    def seconds(self) -> float | None:
        if self._unsupported:
            return None
        if self._watch is None:
            from jarvis_platform import wlr_idle  # pywayland only when asked

            try:
                self._watch = wlr_idle.IdleWatch(self._wayland)
            except wlr_idle.IdleUnsupportedError as exc:
                log.warning("%s; the idle threshold does not apply", exc)
                self._unsupported = True
                return None
        return self._watch.idle_seconds()

    def close(self) -> None:
        if self._watch is not None:
            self._watch.close()
            self._watch = None
