"""Desktop global shortcuts over D-Bus: KDE's kglobalaccel.

On Wayland no client sees keys meant for another window, so the pause hotkey must be the
desktop's own: KDE registers it with kglobalaccel (org.kde.KGlobalAccel, served by KWin in a
Plasma session) and signals each press to the component's object. xdg-desktop-portal's
GlobalShortcuts, the way for other desktops, is in portal_shortcuts.

Keys are Qt's combined key codes (modifiers | key), as kglobalaccel stores them.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Any

from jeepney import (  # type: ignore[import-untyped]  # jeepney ships no type hints
    DBusAddress,
    MatchRule,
    MessageType,
    new_method_call,
)
from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]
from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]

from jarvis_platform.errors import PlatformError

__all__ = [
    "GlobalShortcutError",
    "KGlobalAccel",
    "kglobalaccel_running",
]

log = logging.getLogger(__name__)

KGLOBALACCEL = "org.kde.kglobalaccel"
_ACCEL = DBusAddress("/kglobalaccel", bus_name=KGLOBALACCEL, interface="org.kde.KGlobalAccel")
_COMPONENT_IFACE = "org.kde.kglobalaccel.Component"
# kglobalaccel's setShortcut flags: take these keys now (SetPresent) and do not replace them
# with keys saved earlier (NoAutoloading): Jarvis's config holds the combination.
_SET_PRESENT, _NO_AUTOLOADING = 2, 4


class GlobalShortcutError(PlatformError):
    """The desktop's shortcut service refused or could not be reached; the message says which."""


def _call(
    address: DBusAddress, method: str, signature: str = "", body: tuple[Any, ...] = ()
) -> Any:
    with contextlib.closing(open_dbus_connection(bus="SESSION", auth_timeout=2.0)) as conn:
        reply = conn.send_and_get_reply(
            new_method_call(address, method, signature, body), timeout=5.0
        )
    if reply.header.message_type is MessageType.error:
        why = reply.body[0] if reply.body else reply.header.fields
        raise GlobalShortcutError(f"{address.bus_name} {method}: {why}")
    return reply.body


def _name_has_owner(name: str) -> bool:
    with contextlib.closing(open_dbus_connection(bus="SESSION", auth_timeout=2.0)) as conn:
        reply = conn.send_and_get_reply(message_bus.NameHasOwner(name), timeout=2.0)
    return bool(reply.body[0])


def kglobalaccel_running() -> bool:
    """True when KDE's global shortcut service owns its name on the session bus (not merely
    activatable: a service D-Bus would start on demand grabs no keys on a non-KDE desktop)."""
    try:
        return _name_has_owner(KGLOBALACCEL)
    except Exception as exc:  # no session bus at all: no kglobalaccel either
        log.debug("session bus unavailable: %s", exc)
        return False


class KGlobalAccel:
    """One action of one component in kglobalaccel; `listen` calls back on each press."""

    def __init__(
        self, component: str, action: str, *, component_name: str, action_name: str
    ) -> None:
        self.component, self.action = component, action
        self.action_id = [component, action, component_name, action_name]
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def component_path(self) -> str:
        return "/component/" + "".join(c if c.isalnum() else "_" for c in self.component)

    def register(self, key: int) -> list[int]:
        """Register the action with `key` (a Qt combined key code); the keys kglobalaccel took
        (empty when another component holds the combination)."""
        _call(_ACCEL, "doRegister", "as", (self.action_id,))
        (keys,) = _call(
            _ACCEL, "setShortcut", "asaiu", (self.action_id, [key], _SET_PRESENT | _NO_AUTOLOADING)
        )
        return [int(k) for k in keys if k]

    def keys(self) -> list[int]:
        """The keys kglobalaccel has for the action now (empty when none or not registered)."""
        (keys,) = _call(_ACCEL, "shortcut", "as", (self.action_id,))
        return [int(k) for k in keys if k]

    def unregister(self) -> None:
        """Give the combination back (kglobalaccel forgets the action)."""
        _call(_ACCEL, "unregister", "ss", (self.component, self.action))

    def invoke(self) -> None:
        """Ask kglobalaccel to fire the action as if its keys were pressed (tests, tools)."""
        address = DBusAddress(
            self.component_path, bus_name=KGLOBALACCEL, interface=_COMPONENT_IFACE
        )
        _call(address, "invokeShortcut", "s", (self.action,))

    def listen(self, pressed: Callable[[], None]) -> None:
        """Call `pressed` on a thread of its own each time the action fires, until `stop()`.
        Returns once the bus delivers the signal (no press between now and then is lost)."""
        self.stop()
        self._stop = threading.Event()
        conn = open_dbus_connection(bus="SESSION", auth_timeout=2.0)
        rule = MatchRule(
            type="signal",
            interface=_COMPONENT_IFACE,
            member="globalShortcutPressed",
            path=self.component_path,
        )
        try:
            conn.send_and_get_reply(message_bus.AddMatch(rule), timeout=5.0)
        except BaseException:
            conn.close()
            raise
        stop = self._stop
        action = self.action

        def run() -> None:
            with contextlib.closing(conn), conn.filter(rule) as queue:
                while not stop.is_set():
                    try:
                        signal = conn.recv_until_filtered(queue, timeout=0.5)
                    except TimeoutError:
                        continue
                    except Exception as exc:  # the bus went away: no more presses
                        log.warning("kglobalaccel listener stopped: %s", exc)
                        return
                    if signal.body[1] == action:
                        pressed()

        self._thread = threading.Thread(target=run, name="kglobalaccel", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop listening (idempotent); returns once the listener thread has ended."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(5)
