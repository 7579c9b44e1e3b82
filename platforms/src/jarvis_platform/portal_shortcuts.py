"""One global shortcut through xdg-desktop-portal's GlobalShortcuts, its presses to a callback.

The interface (org.freedesktop.portal.GlobalShortcuts on org.freedesktop.portal.Desktop) exists
only where the session's portal has a backend for it: KDE Plasma (xdg-desktop-portal-kde 5.27
and later), GNOME 48 and later, Hyprland. CreateSession and BindShortcuts each answer with a
Request object whose Response signal carries the outcome (0 granted, 1 the user declined, 2
failed); Activated(session, shortcut id, timestamp, options) signals each press; the session's
Closed signal says the desktop ended it.

KDE Plasma 5.27's backend predates the final interface: it binds the shortcuts CreateSession's
options carry (under kglobalaccel component "<app id><session token>"; keys saved there earlier
win over the preferred trigger) and its BindShortcuts only opens System Settings' shortcut page.
So the shortcut goes into CreateSession's options too, and BindShortcuts is called only when
CreateSession's results do not already list it: later backends (KDE 6, GNOME 48) ignore the
option and bind in BindShortcuts, after asking the user the first time.

xdg-desktop-portal 1.21 and later refuse a session to an app without an app id, which a program
not started from its .desktop file (nor sandboxed) lacks: such a host app names itself first,
through org.freedesktop.host.portal.Registry.Register (from 1.19; before it, the call fails and
is ignored). Register must be the connection's first call to the portal.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
from collections.abc import Callable
from typing import Any

from jeepney import (  # type: ignore[import-untyped]  # jeepney ships no type hints
    DBusAddress,
    MatchRule,
    MessageType,
    Properties,
    new_method_call,
)
from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]
from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]
from jeepney.low_level import HeaderFields  # type: ignore[import-untyped]

from jarvis_platform.errors import PlatformError

__all__ = [
    "NO_GLOBAL_SHORTCUTS",
    "PortalShortcut",
    "PortalShortcutError",
    "portal_global_shortcuts_version",
]

log = logging.getLogger(__name__)

PORTAL = "org.freedesktop.portal.Desktop"
_PATH = "/org/freedesktop/portal/desktop"
_IFACE = "org.freedesktop.portal.GlobalShortcuts"
_SHORTCUTS = DBusAddress(_PATH, bus_name=PORTAL, interface=_IFACE)
_REGISTRY = DBusAddress(_PATH, bus_name=PORTAL, interface="org.freedesktop.host.portal.Registry")
# Starting the portal on demand (bus activation) takes a few seconds on a cold session.
_CALL_TIMEOUT = 30.0
_MEMBER, _OBJECT_PATH = HeaderFields.member, HeaderFields.path
NO_GLOBAL_SHORTCUTS = "this desktop's xdg-desktop-portal offers no GlobalShortcuts"


class PortalShortcutError(PlatformError):
    """The portal is absent or refused the shortcut; the message says which and what to do."""


def _get_version(conn: Any) -> int | None:
    reply = conn.send_and_get_reply(Properties(_SHORTCUTS).get("version"), timeout=_CALL_TIMEOUT)
    if reply.header.message_type is MessageType.error:
        return None  # no portal on the bus, or no GlobalShortcuts in it
    return int(reply.body[0][1])


def portal_global_shortcuts_version() -> int | None:
    """The version of GlobalShortcuts the session's portal serves, or None where it has none."""
    try:
        with contextlib.closing(open_dbus_connection(bus="SESSION", auth_timeout=2.0)) as conn:
            return _get_version(conn)
    except Exception as exc:  # no session bus: no portal either
        log.debug("portal unavailable: %s", exc)
        return None


class PortalShortcut:
    """Binds one shortcut through the portal on a thread of its own, then reports each press.

    `state` is "starting", "binding" (BindShortcuts asked; the desktop may be asking the user),
    "bound" (`trigger` is the desktop's description of the keys, "" when it has none) or
    "failed" (`problem` says why); `settled` is set once it is bound or failed.
    """

    def __init__(
        self,
        shortcut_id: str,
        *,
        description: str,
        preferred_trigger: str | None,
        session_token: str,
        app_id: str | None = None,
    ) -> None:
        self.shortcut_id = shortcut_id
        self._app_id = app_id
        options: dict[str, tuple[str, str]] = {"description": ("s", description)}
        if preferred_trigger:
            options["preferred_trigger"] = ("s", preferred_trigger)
        self._shortcuts = [(shortcut_id, options)]
        self._session_token = session_token
        self.state = "starting"
        self.trigger = ""
        self.problem: str | None = None
        self.settled = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(
        self,
        *,
        pressed: Callable[[], None],
        bound: Callable[[str], None],
        failed: Callable[[str], None],
    ) -> None:
        """Bind, then call `pressed` on each press until `stop()`; `bound(trigger)` once the
        desktop granted the shortcut, `failed(why)` if it never did or the session ended."""

        def run() -> None:
            try:
                self._run(pressed, bound)
            except PortalShortcutError as exc:
                self._fail(str(exc), failed)
            except Exception as exc:  # the bus went away or answered nonsense
                log.warning("portal shortcut stopped: %s", exc)
                self._fail(f"the desktop portal did not answer ({exc})", failed)

        self._thread = threading.Thread(target=run, name="portal-shortcut", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Close the portal session and stop listening (idempotent); waits for the thread."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(5)

    def _fail(self, why: str, failed: Callable[[str], None]) -> None:
        if self._stop.is_set():
            return  # stopped on purpose: nothing to report
        self.problem, self.state = why, "failed"
        self.settled.set()
        failed(why)

    def _run(self, pressed: Callable[[], None], bound: Callable[[str], None]) -> None:
        conn = open_dbus_connection(bus="SESSION", auth_timeout=2.0)
        session: str | None = None
        try:
            if self._app_id:
                register = new_method_call(_REGISTRY, "Register", "sa{sv}", (self._app_id, {}))
                reply = conn.send_and_get_reply(register, timeout=_CALL_TIMEOUT)
                if reply.header.message_type is MessageType.error:
                    log.debug("portal has no host app registry: %s", reply.body)
            if _get_version(conn) is None:
                raise PortalShortcutError(NO_GLOBAL_SHORTCUTS)
            # Every signal reaches one local queue; the bus delivers only those matched below.
            with conn.filter(MatchRule(type="signal")) as queue:
                owner = MatchRule(
                    type="signal", interface="org.freedesktop.DBus", member="NameOwnerChanged"
                )
                owner.add_arg_condition(0, PORTAL)
                self._subscribe(conn, owner)
                self._subscribe(conn, MatchRule(type="signal", interface=_IFACE, path=_PATH))
                session, results = self._create_session(conn, queue)
                self._subscribe(
                    conn,
                    MatchRule(
                        type="signal",
                        interface="org.freedesktop.portal.Session",
                        member="Closed",
                        path=session,
                    ),
                )
                if self._listed(results) is None:
                    self.state = "binding"
                    body = (session, self._shortcuts, "", {"handle_token": ("s", _token())})
                    results = self._request(
                        conn, queue, "BindShortcuts", "oa(sa{sv})sa{sv}", body, session
                    )
                trigger = self._listed(results)
                if trigger is None:
                    raise PortalShortcutError(
                        f"the desktop portal did not bind the shortcut {self.shortcut_id!r}"
                    )
                self.trigger, self.state = trigger, "bound"
                self.settled.set()
                bound(trigger)
                self._listen(conn, queue, session, pressed)
        finally:
            if session is not None:
                with contextlib.suppress(Exception):
                    close = DBusAddress(
                        session, bus_name=PORTAL, interface="org.freedesktop.portal.Session"
                    )
                    conn.send_and_get_reply(new_method_call(close, "Close"), timeout=5.0)
            conn.close()

    def _subscribe(self, conn: Any, rule: MatchRule) -> None:
        conn.send_and_get_reply(message_bus.AddMatch(rule), timeout=_CALL_TIMEOUT)

    def _create_session(self, conn: Any, queue: Any) -> tuple[str, dict[str, Any]]:
        options = {
            "handle_token": ("s", _token()),
            "session_handle_token": ("s", self._session_token),
            "shortcuts": ("a(sa{sv})", self._shortcuts),  # KDE 5.27 binds these here
        }
        results = self._request(conn, queue, "CreateSession", "a{sv}", (options,), None)
        session = results.get("session_handle", ("s", ""))[1]
        if not session:
            raise PortalShortcutError("the desktop portal created no session")
        return str(session), results

    def _request(
        self,
        conn: Any,
        queue: Any,
        method: str,
        signature: str,
        body: tuple[Any, ...],
        session: str | None,
    ) -> dict[str, Any]:
        """Call `method`, then wait (as long as it takes: the desktop may be asking the user)
        for its Request's Response; its results, or PortalShortcutError on a refusal."""
        options = body[-1]
        sender = conn.unique_name[1:].replace(".", "_")
        expected = f"{_PATH}/request/{sender}/{options['handle_token'][1]}"
        # Subscribed before the call, so that a prompt Response is not missed.
        response = MatchRule(
            type="signal",
            interface="org.freedesktop.portal.Request",
            member="Response",
            path=expected,
        )
        self._subscribe(conn, response)
        reply = conn.send_and_get_reply(
            new_method_call(_SHORTCUTS, method, signature, body), timeout=_CALL_TIMEOUT
        )
        if reply.header.message_type is MessageType.error:
            why = reply.body[0] if reply.body else reply.header.fields
            raise PortalShortcutError(f"the desktop portal refused {method}: {why}")
        (handle,) = reply.body
        while True:
            signal = self._next(conn, queue)
            if signal is None:
                raise PortalShortcutError("stopped")
            fields = signal.header.fields
            if fields.get(_MEMBER) == "Closed" and fields.get(_OBJECT_PATH) == session:
                raise PortalShortcutError("the desktop portal closed the session")
            if fields.get(_MEMBER) != "Response" or fields.get(_OBJECT_PATH) != handle:
                continue
            code, results = signal.body
            if code == 1:
                raise PortalShortcutError(
                    "you declined it when the desktop asked: allow it in your desktop's "
                    "shortcut settings, or change the hotkey here to be asked again"
                )
            if code != 0:
                raise PortalShortcutError(f"the desktop portal could not do {method}")
            return dict(results)

    def _next(self, conn: Any, queue: Any) -> Any:
        """The next signal, or None once stopped; PortalShortcutError if the portal left."""
        while not self._stop.is_set():
            try:
                signal = conn.recv_until_filtered(queue, timeout=0.5)
            except TimeoutError:
                continue
            if (
                signal.header.fields.get(_MEMBER) == "NameOwnerChanged"
                and signal.body[0] == PORTAL
                and not signal.body[2]
            ):
                raise PortalShortcutError("the desktop portal stopped (xdg-desktop-portal exited)")
            return signal
        return None

    def _listen(self, conn: Any, queue: Any, session: str, pressed: Callable[[], None]) -> None:
        while (signal := self._next(conn, queue)) is not None:
            member = signal.header.fields.get(_MEMBER)
            if member == "Closed" and signal.header.fields.get(_OBJECT_PATH) == session:
                raise PortalShortcutError("the desktop closed the portal session")
            if (
                member == "Activated"
                and signal.body[0] == session
                and signal.body[1] == self.shortcut_id
            ):
                pressed()

    def _listed(self, results: dict[str, Any]) -> str | None:
        """The trigger description of our shortcut in a portal result, or None if absent."""
        listed = results.get("shortcuts", ("a(sa{sv})", []))[1] or []
        for name, info in listed:
            if name == self.shortcut_id:
                return str(info.get("trigger_description", ("s", ""))[1])
        return None


def _token() -> str:
    return "jarvis_" + secrets.token_hex(6)
