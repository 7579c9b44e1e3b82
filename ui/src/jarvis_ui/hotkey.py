"""The global pause hotkey, by the desktop's own mechanism, reaching Qt through the inbox.

- X11 (and macOS, Windows): pynput listens on its own thread.
- sway: a `bindsym` in sway's config runs `jarvis pause --toggle` (`jarvis hotkey sway`); the
  tray listens for nothing and Settings says whether sway has the binding (sway's portal has no
  GlobalShortcuts).
- KDE Plasma on Wayland: the combination is registered with kglobalaccel, which signals each
  press over D-Bus (pynput sees no keys on Wayland). Preferred there to KDE's portal, which is
  kglobalaccel underneath too: directly, Jarvis's own combination applies (through the 5.27
  portal keys saved once win over it) and a combination held elsewhere is reported; this way
  is also the one tested with real key presses. If kglobalaccel fails, the portal is next.
- Any other Wayland desktop: xdg-desktop-portal's GlobalShortcuts (GNOME 48+, Hyprland, ...),
  bound on a thread of its own since the desktop may ask the user first; where the portal has
  no GlobalShortcuts the user is told to bind `jarvis pause --toggle` in the desktop's settings.
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
# The portal's shortcut id and session token (KDE 5.27 names its kglobalaccel component after
# the token: a fixed one keeps the keys a user gave it there across restarts).
PORTAL_SHORTCUT, PORTAL_SESSION = "pause-toggle", "jarvis_pause"
PORTAL_APP_ID = "jarvis"  # packaging/linux/jarvis.desktop: newer portals need the app's id
_PORTAL_MODIFIERS = {"Ctrl": "CTRL", "Alt": "ALT", "Shift": "SHIFT", "Mod4": "LOGO"}


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


def portal_trigger(spec: str) -> str | None:
    """A pynput combination in the shortcuts spec's form the portal takes as preferred trigger
    (`<ctrl>+<alt>+p` is `CTRL+ALT+p`: xkb key names, as sway's), or None if it has none."""
    from jarvis_agent.sway_hotkey import SwayHotkeyError, sway_combo

    try:
        *modifiers, key = sway_combo(spec).split("+")
    except SwayHotkeyError:
        return None
    return "+".join([*(_PORTAL_MODIFIERS[m] for m in modifiers), key])


def hotkey_mechanism(environ: Mapping[str, str] | None = None) -> str:
    """How this session can have a global hotkey: "pynput", "sway", "kglobalaccel" or "portal"
    (xdg-desktop-portal's GlobalShortcuts, if the portal has it: found out when binding).
    Cheap enough for the GUI thread (at most one NameHasOwner on the session bus)."""
    env = os.environ if environ is None else environ
    wayland = env.get("XDG_SESSION_TYPE", "").lower() == "wayland" or bool(
        env.get("WAYLAND_DISPLAY")
    )
    if not wayland:
        return "pynput"
    if env.get("SWAYSOCK"):
        return "sway"
    from jarvis_platform.global_shortcuts import kglobalaccel_running

    return "kglobalaccel" if kglobalaccel_running() else "portal"


class HotkeyBridge(QObject):
    """Owns the pynput listener; `activated` is emitted on the GUI thread on each press.

    `failed` carries a message for the user when the hotkey cannot be bound (no X RECORD
    extension, Wayland, an invalid combination): the tray shows it and keeps working without it.
    `mechanism` forces one ("portal" on KDE, say) instead of the session's best.
    """

    activated = Signal()
    failed = Signal(str)

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        environ: Mapping[str, str] | None = None,
        mechanism: str | None = None,
    ) -> None:
        super().__init__(parent)
        self._environ = environ
        self._mechanism = mechanism
        self._listener: Any = None
        self._accel: Any = None
        self._portal: Any = None
        self._failed_key: int | None = None
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

    @property
    def shown(self) -> str | None:
        """The keys as the user presses them: where the desktop portal bound the shortcut, its
        own description (a desktop keeps keys the user gave it over Jarvis's combination),
        else the combination listened for; None when nothing is."""
        portal = self._portal
        if portal is not None and portal.state == "bound" and portal.trigger:
            return str(portal.trigger)
        return display_hotkey(self._spec) if self._spec else None

    def bind(self, spec: str) -> bool:
        """Listen for `spec` (pynput syntax) instead of any previous combination."""
        self.unbind()
        self._problem = None
        mechanism = self.mechanism
        if mechanism == "kglobalaccel":
            return self._bind_kde(spec)
        if mechanism == "portal":
            return self._bind_portal(spec)
        if mechanism != "pynput":
            return False  # sway runs `jarvis pause --toggle` itself
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
        except Exception as exc:  # kglobalaccel gone or refusing: the portal is the next way
            log.warning("pause hotkey %r not registered with kglobalaccel: %s", spec, exc)
            self.unbind()
            self._mechanism = "portal"
            return self._bind_portal(spec)
        if wanted not in taken:
            self._problem = (
                f"KDE gave {display_hotkey(combo)} to another shortcut: choose another "
                "combination here, or free it in System Settings > Shortcuts"
            )
            self.failed.emit(self._problem)
        self._spec = combo
        log.info("pause hotkey %s registered with kglobalaccel", display_hotkey(combo))
        return wanted in taken

    def _bind_portal(self, spec: str) -> bool:
        """Ask the desktop portal for the shortcut, on the portal's own thread (the desktop may
        ask the user first): True once asked; `failed` says later if it refused."""
        from jarvis_platform.portal_shortcuts import PortalShortcut

        try:
            combo = normalize_hotkey(spec)
        except ValueError as exc:
            self._problem = str(exc)
            self.failed.emit(f"The pause hotkey {spec} could not be set up: {exc}")
            return False
        portal = PortalShortcut(
            PORTAL_SHORTCUT,
            description="Pause or resume Jarvis",
            preferred_trigger=portal_trigger(combo),
            session_token=PORTAL_SESSION,
            app_id=PORTAL_APP_ID,
        )
        box = inbox()
        self._key = box.register(lambda _: self.activated.emit())
        shown = display_hotkey(combo)
        failed_key = box.register(partial(self._portal_failed, shown))
        self._failed_key = failed_key
        portal.start(
            pressed=partial(box.post, self._key, None),
            bound=lambda trigger: log.info("pause hotkey %s bound by the desktop portal", trigger),
            failed=partial(box.post, failed_key),
        )
        self._portal = portal
        self._spec = combo
        return True

    def _portal_failed(self, shown: str, why: object) -> None:
        from jarvis_platform.portal_shortcuts import NO_GLOBAL_SHORTCUTS

        if str(why) == NO_GLOBAL_SHORTCUTS:
            # The desktop has no way to give apps a hotkey: Settings says how to bind the
            # toggle command there. No notice: it would repeat at every start, even for a
            # user who has long since bound it.
            log.info("pause hotkey: the desktop portal offers no global shortcuts")
            return
        self.failed.emit(_portal_failure(shown, str(why)))

    def unbind(self) -> None:
        """Stop listening (idempotent)."""
        listener, self._listener, self._spec = self._listener, None, None
        accel, self._accel = self._accel, None
        portal, self._portal = self._portal, None
        key, self._key = self._key, None
        failed_key, self._failed_key = self._failed_key, None
        if accel is not None:
            accel.stop()
        if portal is not None:
            portal.stop()
        if failed_key is not None:
            inbox().unregister(failed_key)
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
        return self._describe_portal(combo)

    def _describe_portal(self, combo: str) -> str:
        portal = self._portal
        if portal is None:
            from jarvis_platform.portal_shortcuts import portal_global_shortcuts_version

            if portal_global_shortcuts_version() is None:
                return _no_global_shortcuts(combo)
            return f"Pause hotkey {combo} not active: it is not bound (is the tray running?)"
        # The portal answers within moments unless the desktop is asking the user.
        portal.settled.wait(10)
        if portal.state == "bound":
            if not portal.trigger:
                return (
                    "Pause hotkey bound by the desktop portal, but without keys: give it a "
                    "combination in your desktop's shortcut settings"
                )
            return (
                f"Pause hotkey: {portal.trigger}, by the desktop portal (GlobalShortcuts); "
                "change it in your desktop's shortcut settings"
            )
        if portal.state == "failed":
            return _portal_failure(combo, str(portal.problem))
        return (
            f"Pause hotkey {combo}: waiting for the desktop portal to grant it (your desktop "
            "may be asking you)"
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


def _no_global_shortcuts(combo: str) -> str:
    return (
        "Pause hotkey not available: on Wayland Jarvis cannot hear keys, and this desktop "
        f"offers no global shortcuts to apps (no kglobalaccel, no portal GlobalShortcuts). "
        f"Bind {TOGGLE_COMMAND} to {combo} in your desktop's keyboard settings."
    )


def _portal_failure(combo: str, why: str) -> str:
    """What to tell the user when the portal did not give (or stopped giving) the hotkey."""
    from jarvis_platform.portal_shortcuts import NO_GLOBAL_SHORTCUTS

    if why == NO_GLOBAL_SHORTCUTS:
        return _no_global_shortcuts(combo)
    return (
        f"Pause hotkey {combo} not active: {why}. Restart Jarvis to ask again, or bind "
        f"{TOGGLE_COMMAND} in your desktop's keyboard settings."
    )


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
