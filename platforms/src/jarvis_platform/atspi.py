"""Top-level frames as the accessibility bus (AT-SPI) names them: process, name, screen extents.

Why: Chromium-based browsers on Linux put no private-window marker in the X11 title ("Bank
statement - Chromium"), yet the accessible name of the same window does ("Bank statement -
Chromium (Incognito)", localised: "(Inkognito)" in German). Chromium registers on the bus only
when accessibility was on when it started (org.a11y.Status IsEnabled, as GNOME's "assistive
technologies" switch sets it); then reading the frames' names costs a few D-Bus round trips and
nothing of the page.

Plain D-Bus (jeepney): the session bus tells where the accessibility bus is; on it the registry
lists the applications and each application its frames. Every call has a short timeout, and any
failure reads as "no frames" (the caller treats that as "no accessible name", never as "safe").
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from jeepney import (  # type: ignore[import-untyped]  # jeepney ships no type hints
    DBusAddress,
    MessageType,
    new_method_call,
)
from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]
from jeepney.low_level import MessageFlag  # type: ignore[import-untyped]

from jarvis_platform.types import Rect

__all__ = ["AccessibleFrame", "AtspiFrames"]

log = logging.getLogger(__name__)

_ROOT = "/org/a11y/atspi/accessible/root"
_ACCESSIBLE = "org.a11y.atspi.Accessible"
_COMPONENT = "org.a11y.atspi.Component"
_SCREEN_COORDS = 0  # ATSPI_COORD_TYPE_SCREEN
_FRAME_ROLES = frozenset({23, 68, 69})  # FRAME, WINDOW, DIALOG (AtspiRole)
_BUS = DBusAddress("/org/a11y/bus", bus_name="org.a11y.Bus", interface="org.a11y.Bus")
_DBUS = DBusAddress(
    "/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus"
)


@dataclass(frozen=True, slots=True)
class AccessibleFrame:
    """One top-level frame of an application on the accessibility bus."""

    pid: int
    name: str
    rect: Rect | None


class AtspiFrames:
    """Reads the frames of every application registered on the accessibility bus.

    Opens its connections lazily and keeps them; a failure closes them and the next call tries
    again. Not thread-safe: one instance per platform instance.
    """

    def __init__(self, *, timeout: float = 0.25, bus: str = "SESSION") -> None:
        self._timeout = timeout
        self._bus = bus  # the session bus (its address, or "SESSION" for the environment's)
        self._conn: Any = None
        self._pids: dict[str, int] = {}

    def _connect(self) -> Any:
        if self._conn is None:
            with contextlib.closing(
                open_dbus_connection(bus=self._bus, auth_timeout=self._timeout)
            ) as session:
                ask = new_method_call(_BUS, "GetAddress")
                # Never start the bus: Chromium registers only on one that ran before it did.
                ask.header.flags |= MessageFlag.no_auto_start
                reply = session.send_and_get_reply(ask, timeout=self._timeout)
                if reply.header.message_type is MessageType.error:
                    raise OSError(f"no accessibility bus: {reply.body}")
                address = str(reply.body[0])
            self._conn = open_dbus_connection(bus=address, auth_timeout=self._timeout)
        return self._conn

    def _call(
        self,
        address: DBusAddress,
        method: str,
        signature: str | None = None,
        body: tuple[object, ...] = (),
    ) -> tuple[Any, ...]:
        conn = self._connect()
        message = new_method_call(address, method, signature, body)
        reply = conn.send_and_get_reply(message, timeout=self._timeout)
        if reply.header.message_type is MessageType.error:
            raise LookupError(f"{method}: {reply.body}")
        return tuple(reply.body)

    def _pid(self, bus_name: str) -> int | None:
        pid = self._pids.get(bus_name)
        if pid is None:
            try:
                pid = int(self._call(_DBUS, "GetConnectionUnixProcessID", "s", (bus_name,))[0])
            except LookupError:
                return None
            self._pids[bus_name] = pid
        return pid

    def _children(self, bus_name: str, path: str) -> list[tuple[str, str]]:
        address = DBusAddress(path, bus_name=bus_name, interface=_ACCESSIBLE)
        return [(str(n), str(p)) for n, p in self._call(address, "GetChildren")[0]]

    def _frame(self, pid: int, bus_name: str, path: str) -> AccessibleFrame | None:
        accessible = DBusAddress(path, bus_name=bus_name, interface=_ACCESSIBLE)
        props = DBusAddress(path, bus_name=bus_name, interface="org.freedesktop.DBus.Properties")
        if int(self._call(accessible, "GetRole")[0]) not in _FRAME_ROLES:
            return None
        name = str(self._call(props, "Get", "ss", (_ACCESSIBLE, "Name"))[0][1])
        rect: Rect | None = None
        with contextlib.suppress(LookupError):
            component = DBusAddress(path, bus_name=bus_name, interface=_COMPONENT)
            x, y, w, h = self._call(component, "GetExtents", "u", (_SCREEN_COORDS,))[0]
            rect = Rect(int(x), int(y), int(w), int(h))
        return AccessibleFrame(pid=pid, name=name, rect=rect)

    def frames(self, pids: set[int] | None = None) -> list[AccessibleFrame]:
        """Frames of the registered applications (of these processes only, when `pids` is given).

        An empty list when there is no accessibility bus or it does not answer in time.
        """
        found: list[AccessibleFrame] = []
        try:
            apps = self._children("org.a11y.atspi.Registry", _ROOT)
            for bus_name, path in apps:
                pid = self._pid(bus_name)
                if pid is None or (pids is not None and pid not in pids):
                    continue
                try:
                    for child_bus, child_path in self._children(bus_name, path):
                        frame = self._frame(pid, child_bus, child_path)
                        if frame is not None:
                            found.append(frame)
                except (LookupError, TimeoutError):
                    continue  # this application is gone or hung: it names no frame
        except (OSError, LookupError, TimeoutError, ValueError, EOFError) as exc:
            log.debug("accessibility bus not readable: %s", exc)
            self.close()
            return []
        return found

    @property
    def connected(self) -> bool:
        """True while a connection to the accessibility bus is open (the last read worked)."""
        return self._conn is not None

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
        self._conn = None
        self._pids.clear()
