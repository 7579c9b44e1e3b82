"""The global pause hotkey, by the desktop's own mechanism, reaching Qt through the inbox.

- X11 (and macOS, Windows): pynput listens on its own thread.
- KDE Plasma on Wayland: the combination is registered with kglobalaccel, which signals each
  press over D-Bus (pynput sees no keys on Wayland).
- sway: a `bindsym` in sway's config runs `jarvis pause --toggle` (`jarvis hotkey sway`); the
  tray listens for nothing and Settings says whether sway has the binding.
- Any other Wayland desktop: xdg-desktop-portal's GlobalShortcuts, where the portal offers it, is
  reported by `describe()` (Jarvis does not use it yet: no portal in Debian 12 offers it to test
  against); else the user is told to bind `jarvis pause --toggle` in the desktop's settings.
`describe()` is the line Settings shows: which mechanism, which combination, or what to do.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping
from functools import partial
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from jarvis_ui.shortcut import display_hotkey, normalize_hotkey, parse_hotkey
from jarvis_ui.workers import inbox

log = logging.getLogger(__name__)

TOGGLE_COMMAND = "jarvis pause --toggle"
KDE_COMPONENT, KDE_ACTION = "jarvis", "pause"


def qt_key_code(spec: str) -> int:
    """A pynput combination as Qt's combined key code (modifiers | key), kglobalaccel's form."""
    from jarvis_ui.settings.hotkey import QT_NAMED_KEYS

    modifiers, key = parse_hotkey(normalize_hotkey(spec))
    if len(key) == 1:
        code = ord(key.upper())
    elif key.startswith("f") and key[1:].isdigit():
        code = Qt.Key.Key_F1.value + int(key[1:]) - 1
    else:
        code = next(q.value for q, name in QT_NAMED_KEYS.items() if name == key)
    flags = {
        "ctrl": Qt.KeyboardModifier.ControlModifier,
        "alt": Qt.KeyboardModifier.AltModifier,
        "shift": Qt.KeyboardModifier.ShiftModifier,
        "cmd": Qt.KeyboardModifier.MetaModifier,
    }
    for name in modifiers:
        code |= flags[name].value
    return code


def hotkey_mechanism(environ: Mapping[str, str] | None = None) -> str:
    """How this session can have a global hotkey: "pynput", "sway", "kglobalaccel" or "none".
    Cheap enough for the GUI thread (at most one NameHasOwner on the session bus); whether the
    portal offers GlobalShortcuts is asked only by `describe()`, off the GUI thread."""
    env = os.environ if environ is None else environ
    wayland = env.get("XDG_SESSION_TYPE", "").lower() == "wayland" or bool(
        env.get("WAYLAND_DISPLAY")
    )
    if not wayland:
        return "pynput"
    if env.get("SWAYSOCK"):
        return "sway"
    from jarvis_platform.global_shortcuts import kglobalaccel_running

    return "kglobalaccel" if kglobalaccel_running() else "none"


class HotkeyBridge(QObject):
    """Owns the pynput listener; `activated` is emitted on the GUI thread on each press.

    `failed` carries a message for the user when the hotkey cannot be bound (no X RECORD
    extension, Wayland, an invalid combination): the tray shows it and keeps working without it.
    """

    activated = Signal()
    failed = Signal(str)

    def __init__(
        self, parent: QObject | None = None, *, environ: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(parent)
        self._environ = environ
        self._mechanism: str | None = None
        self._listener: Any = None
        self._accel: Any = None
        self._spec: str | None = None
        self._key: int | None = None
        self._problem: str | None = None

    @property
    def mechanism(self) -> str:
        """The session's hotkey mechanism (found once: it does not change while Jarvis runs)."""
        if self._mechanism is None:
            self._mechanism = hotkey_mechanism(self._environ)
        return self._mechanism

    @property
    def spec(self) -> str | None:
        """The combination currently listened for, or None."""
        return self._spec

    def bind(self, spec: str) -> bool:
        """Listen for `spec` (pynput syntax) instead of any previous combination."""
        self.unbind()
        self._problem = None
        mechanism = self.mechanism
        if mechanism == "kglobalaccel":
            return self._bind_kde(spec)
        if mechanism != "pynput":
            # sway runs `jarvis pause --toggle` itself; elsewhere describe() says what to do.
            return False
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
            self._problem = str(exc)
            self.failed.emit(f"The pause hotkey {spec} could not be set up: {exc}")
            return False
        self._listener = listener
        self._spec = combo
        log.info("pause hotkey bound to %s", display_hotkey(combo))
        return True

    def _bind_kde(self, spec: str) -> bool:
        from jarvis_platform.global_shortcuts import KGlobalAccel

        accel = KGlobalAccel(
            KDE_COMPONENT, KDE_ACTION, component_name="Jarvis", action_name="Pause or resume"
        )
        try:
            combo = normalize_hotkey(spec)
            wanted = qt_key_code(combo)
            box = inbox()
            self._key = box.register(lambda _: self.activated.emit())
            accel.listen(partial(box.post, self._key, None))
            self._accel = accel
            taken = accel.register(wanted)
        except Exception as exc:  # kglobalaccel gone or refusing: the tray works without it
            log.warning("pause hotkey %r not registered with kglobalaccel: %s", spec, exc)
            self.unbind()
            self._problem = str(exc)
            self.failed.emit(f"The pause hotkey {spec} could not be set up: {exc}")
            return False
        if wanted not in taken:
            self._problem = (
                f"KDE gave {display_hotkey(combo)} to another shortcut: choose another "
                "combination here, or free it in System Settings > Shortcuts"
            )
            self.failed.emit(self._problem)
        self._spec = combo
        log.info("pause hotkey %s registered with kglobalaccel", display_hotkey(combo))
        return wanted in taken

    def unbind(self) -> None:
        """Stop listening (idempotent)."""
        listener, self._listener, self._spec = self._listener, None, None
        accel, self._accel = self._accel, None
        key, self._key = self._key, None
        if accel is not None:
            accel.stop()
        if key is not None:
            inbox().unregister(key)
        if listener is not None:
            listener.stop()
            listener.join(5)

    def describe(self, spec: str) -> str:
        """The line Settings shows: which mechanism has the combination `spec`, or what to do.
        May ask sway or D-Bus: call it off the GUI thread."""
        try:
            combo = display_hotkey(spec)
        except ValueError as exc:
            return f"Pause hotkey not set up: {exc}"
        mechanism = self.mechanism
        if mechanism == "pynput":
            if self._spec is not None:
                return f"Pause hotkey: {display_hotkey(self._spec)}, heard by Jarvis (X11)"
            why = f": {self._problem}" if self._problem else ""
            return f"Pause hotkey {combo} is not active{why}"
        if mechanism == "sway":
            return _describe_sway(spec, self._environ)
        if mechanism == "kglobalaccel":
            return self._describe_kde(combo)
        from jarvis_platform.global_shortcuts import portal_offers_global_shortcuts

        if portal_offers_global_shortcuts():
            return (
                f"Pause hotkey not set up: this desktop's portal offers global shortcuts, which "
                f"Jarvis does not use yet. Bind {TOGGLE_COMMAND} to {combo} in your desktop's "
                "keyboard settings."
            )
        return (
            "Pause hotkey not available: on Wayland Jarvis cannot hear keys, and this desktop "
            f"offers no global shortcuts to apps (no kglobalaccel, no portal GlobalShortcuts). "
            f"Bind {TOGGLE_COMMAND} to {combo} in your desktop's keyboard settings."
        )

    def _describe_kde(self, combo: str) -> str:
        from jarvis_platform.global_shortcuts import KGlobalAccel

        accel = KGlobalAccel(
            KDE_COMPONENT, KDE_ACTION, component_name="Jarvis", action_name="Pause or resume"
        )
        try:
            keys = accel.keys()
        except Exception as exc:  # kglobalaccel went away
            return f"Pause hotkey not active: KDE's kglobalaccel did not answer ({exc})"
        if not keys:
            why = self._problem or "it is not registered (is the tray running?)"
            return f"Pause hotkey {combo} not active: {why}"
        from PySide6.QtGui import QKeySequence

        shown = QKeySequence(keys[0]).toString()
        return f"Pause hotkey: KDE global shortcut {shown} (kglobalaccel)"


def _describe_sway(spec: str, environ: Mapping[str, str] | None) -> str:
    from jarvis_agent.paths import agent_paths
    from jarvis_agent.sway_hotkey import SwayHotkeyError, sway_binding_state
    from jarvis_platform.sway_ipc import GET_CONFIG, SwayIPC

    env = os.environ if environ is None else environ
    swaysock = env.get("SWAYSOCK", "")
    try:
        with contextlib.closing(SwayIPC(swaysock, timeout=5.0)) as ipc:
            config_text = str(ipc.request(GET_CONFIG).get("config", ""))
        state = sway_binding_state(spec, config_text, swaysock, agent_paths().sway_hotkey_record)
    except SwayHotkeyError as exc:
        return f"Pause hotkey not set up: {exc}"
    except Exception as exc:  # sway gone or refusing: say so rather than guess
        return f"Pause hotkey unknown: sway did not answer at SWAYSOCK={swaysock} ({exc})"
    if state.source == "config":
        return f"Pause hotkey: sway binding {state.combo} (runs {TOGGLE_COMMAND})"
    if state.source == "applied":
        return (
            f"Pause hotkey: sway binding {state.combo} (runs {TOGGLE_COMMAND}), added to this "
            "sway session only: add the line `jarvis hotkey sway` prints to ~/.config/sway/config"
        )
    return (
        f"Pause hotkey not set up: run jarvis hotkey sway --apply (binds {state.combo} in sway), "
        "and add the line it prints to ~/.config/sway/config"
    )
