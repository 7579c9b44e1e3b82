"""The global pause hotkey: pynput listens on its own thread and reaches Qt through the inbox."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from PySide6.QtCore import QObject, Signal

from jarvis_ui.shortcut import display_hotkey, normalize_hotkey
from jarvis_ui.workers import inbox

log = logging.getLogger(__name__)


class HotkeyBridge(QObject):
    """Owns the pynput listener; `activated` is emitted on the GUI thread on each press.

    `failed` carries a message for the user when the hotkey cannot be bound (no X RECORD
    extension, Wayland, an invalid combination): the tray shows it and keeps working without it.
    """

    activated = Signal()
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._listener: Any = None
        self._spec: str | None = None
        self._key: int | None = None

    @property
    def spec(self) -> str | None:
        """The combination currently listened for, or None."""
        return self._spec

    def bind(self, spec: str) -> bool:
        """Listen for `spec` (pynput syntax) instead of any previous combination."""
        self.unbind()
        try:
            combo = normalize_hotkey(spec)
            # pynput picks its backend at import and needs a display: import it only here.
            from pynput import keyboard

            # pynput's thread gets only the inbox and a key, never this object (see workers).
            box = inbox()
            self._key = box.register(lambda _: self.activated.emit())
            listener = keyboard.GlobalHotKeys({combo: partial(box.post, self._key)})
            listener.daemon = True
            listener.start()
            # Stopping a listener that has not finished connecting to X makes its thread fail.
            listener.wait()
        except Exception as exc:  # any backend failure leaves the app usable without a hotkey
            log.warning("pause hotkey %r not bound: %s", spec, exc)
            self.unbind()
            self.failed.emit(f"The pause hotkey {spec} could not be set up: {exc}")
            return False
        self._listener = listener
        self._spec = combo
        log.info("pause hotkey bound to %s", display_hotkey(combo))
        return True

    def unbind(self) -> None:
        """Stop listening (idempotent)."""
        listener, self._listener, self._spec = self._listener, None, None
        key, self._key = self._key, None
        if key is not None:
            inbox().unregister(key)
        if listener is not None:
            listener.stop()
            listener.join(5)
