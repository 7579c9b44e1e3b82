"""Is the session locked? Ask the desktop's screensaver and logind over D-Bus, where they answer.

Sources, any of which saying "locked" wins:
- session bus: org.freedesktop.ScreenSaver.GetActive (KDE, XFCE, MATE, Cinnamon, light-locker),
  org.gnome.ScreenSaver.GetActive (GNOME);
- system bus: logind's LockedHint of this session (set by most lockers that integrate with logind).
A source that is absent (no bus, no such service) is not asked again for a while, so a desktop
without D-Bus costs nothing per tick.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass

from jeepney import (  # type: ignore[import-untyped]  # jeepney ships no type hints
    DBusAddress,
    MessageType,
    Properties,
    new_method_call,
)
from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]

__all__ = ["LockSource", "SessionLockProbe", "default_lock_sources"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LockSource:
    """One place to ask: which bus, which object, and how to read its answer."""

    name: str
    bus: str  # "SESSION" or "SYSTEM"
    address: DBusAddress
    method: str | None  # a method returning a boolean; None means read the `LockedHint` property

    def ask(self, timeout: float) -> bool:
        """True when this source says locked; raises (OSError, ...) when it cannot answer."""
        with contextlib.closing(open_dbus_connection(bus=self.bus, auth_timeout=timeout)) as conn:
            if self.method is not None:
                message = new_method_call(self.address, self.method)
            else:
                message = Properties(self.address).get("LockedHint")
            reply = conn.send_and_get_reply(message, timeout=timeout)
        if reply.header.message_type is MessageType.error:
            raise LookupError(f"{self.name}: {reply.body[0] if reply.body else 'error reply'}")
        value = reply.body[0]
        if isinstance(value, tuple):  # a property arrives as a (signature, value) variant
            value = value[1]
        return bool(value)


def default_lock_sources() -> list[LockSource]:
    sources = [
        LockSource(
            "org.freedesktop.ScreenSaver",
            "SESSION",
            DBusAddress(
                "/org/freedesktop/ScreenSaver",
                bus_name="org.freedesktop.ScreenSaver",
                interface="org.freedesktop.ScreenSaver",
            ),
            "GetActive",
        ),
        LockSource(
            "org.gnome.ScreenSaver",
            "SESSION",
            DBusAddress(
                "/org/gnome/ScreenSaver",
                bus_name="org.gnome.ScreenSaver",
                interface="org.gnome.ScreenSaver",
            ),
            "GetActive",
        ),
    ]
    session_id = os.environ.get("XDG_SESSION_ID", "").strip()
    path = f"/org/freedesktop/login1/session/{session_id if session_id.isalnum() else 'auto'}"
    sources.append(
        LockSource(
            "logind LockedHint",
            "SYSTEM",
            DBusAddress(
                path, bus_name="org.freedesktop.login1", interface="org.freedesktop.login1.Session"
            ),
            None,
        )
    )
    return sources


class SessionLockProbe:
    """Asks each available lock source; remembers which ones are absent for `retry_after` s."""

    def __init__(
        self,
        sources: list[LockSource] | None = None,
        *,
        timeout: float = 0.5,
        retry_after: float = 300.0,
    ) -> None:
        self._sources = default_lock_sources() if sources is None else sources
        self._timeout = timeout
        self._retry_after = retry_after
        self._absent_until: dict[str, float] = {}

    def locked(self, now: float) -> bool:
        """True when any source that answers says the session is locked."""
        for source in self._sources:
            if self._absent_until.get(source.name, 0.0) > now:
                continue
            try:
                if source.ask(self._timeout):
                    return True
            except Exception as exc:  # any failure means "this source is absent" for now
                log.debug("lock source %s unavailable: %s", source.name, exc)
                self._absent_until[source.name] = now + self._retry_after
        return False

    def answer(self, now: float) -> bool | None:
        """Like `locked`, but None when no source answered at all (the state is unknown)."""
        answered = False
        for source in self._sources:
            if self._absent_until.get(source.name, 0.0) > now:
                continue
            try:
                if source.ask(self._timeout):
                    return True
                answered = True
            except Exception as exc:  # any failure means "this source is absent" for now
                log.debug("lock source %s unavailable: %s", source.name, exc)
                self._absent_until[source.name] = now + self._retry_after
        return False if answered else None

    def sources(self) -> list[str]:
        return [source.name for source in self._sources]
