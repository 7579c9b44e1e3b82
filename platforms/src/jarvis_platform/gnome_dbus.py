"""A small blocking D-Bus client for the GNOME backend (jeepney), with errors as PlatformError.

Every name GNOME and Jarvis answer on, in one place: Jarvis's Shell extension (local.jarvis.Shell,
its own name), Mutter's idle monitor, GNOME's screensaver, the portal and its permission store.
"""

from __future__ import annotations

import contextlib
from typing import Any

from jeepney import (  # type: ignore[import-untyped]  # jeepney ships no type hints
    DBusAddress,
    MessageType,
    new_method_call,
)
from jeepney.io.blocking import (  # type: ignore[import-untyped]
    DBusConnection,
    open_dbus_connection,
)

from jarvis_platform.errors import PlatformError

__all__ = [
    "DISPLAY_CONFIG",
    "EXTENSION",
    "IDLE_MONITOR",
    "MESSAGE_BUS",
    "PERMISSION_STORE",
    "PORTAL_SCREENCAST",
    "PORTAL_SCREENSHOT",
    "SCREENSAVER",
    "SHELL",
    "Bus",
    "DBusCallError",
    "ImpostorError",
    "shell_extension",
]

EXTENSION = DBusAddress(
    "/local/jarvis/Shell", bus_name="local.jarvis.Shell", interface="local.jarvis.Shell1"
)
SHELL = DBusAddress("/org/gnome/Shell", bus_name="org.gnome.Shell", interface="org.gnome.Shell")
IDLE_MONITOR = DBusAddress(
    "/org/gnome/Mutter/IdleMonitor/Core",
    bus_name="org.gnome.Mutter.IdleMonitor",
    interface="org.gnome.Mutter.IdleMonitor",
)
SCREENSAVER = DBusAddress(
    "/org/gnome/ScreenSaver", bus_name="org.gnome.ScreenSaver", interface="org.gnome.ScreenSaver"
)
PORTAL_SCREENSHOT = DBusAddress(
    "/org/freedesktop/portal/desktop",
    bus_name="org.freedesktop.portal.Desktop",
    interface="org.freedesktop.portal.Screenshot",
)
PORTAL_SCREENCAST = DBusAddress(
    "/org/freedesktop/portal/desktop",
    bus_name="org.freedesktop.portal.Desktop",
    interface="org.freedesktop.portal.ScreenCast",
)
DISPLAY_CONFIG = DBusAddress(
    "/org/gnome/Mutter/DisplayConfig",
    bus_name="org.gnome.Mutter.DisplayConfig",
    interface="org.gnome.Mutter.DisplayConfig",
)
PERMISSION_STORE = DBusAddress(
    "/org/freedesktop/impl/portal/PermissionStore",
    bus_name="org.freedesktop.impl.portal.PermissionStore",
    interface="org.freedesktop.impl.portal.PermissionStore",
)

MESSAGE_BUS = DBusAddress(
    "/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus"
)

TIMEOUT = 5.0  # seconds for one call; the shell answers in milliseconds


class DBusCallError(PlatformError):
    """A D-Bus call failed: `name` is the D-Bus error name (or "" when the bus itself failed)."""

    def __init__(self, message: str, name: str = "") -> None:
        super().__init__(message)
        self.name = name


class Bus:
    """One connection to a message bus ("SESSION", "SYSTEM" or an address)."""

    def __init__(
        self, address: str = "SESSION", *, timeout: float = TIMEOUT, fds: bool = False
    ) -> None:
        self.timeout = timeout
        try:
            self.conn: DBusConnection = open_dbus_connection(
                bus=address, auth_timeout=timeout, enable_fds=fds
            )
        except Exception as exc:
            raise DBusCallError(f"cannot connect to the D-Bus session bus: {exc}") from exc

    @property
    def unique_name(self) -> str:
        return str(self.conn.unique_name)

    def call(
        self,
        address: DBusAddress,
        method: str,
        signature: str | None = None,
        body: tuple[Any, ...] = (),
        *,
        timeout: float | None = None,
    ) -> tuple[Any, ...]:
        """The reply's body; raises DBusCallError naming the service and the D-Bus error."""
        message = new_method_call(address, method, signature, body)
        try:
            reply = self.conn.send_and_get_reply(message, timeout=timeout or self.timeout)
        except Exception as exc:  # timeouts, a closed socket
            why = str(exc) or type(exc).__name__
            raise DBusCallError(f"{address.bus_name}.{method}: {why}") from exc
        if reply.header.message_type is MessageType.error:
            name = str(reply.header.fields.get(4, ""))  # HeaderFields.error_name
            detail = reply.body[0] if reply.body else name
            raise DBusCallError(f"{address.bus_name}.{method}: {detail}", name)
        return tuple(reply.body)

    def has_owner(self, name: str) -> bool:
        return bool(self.call(MESSAGE_BUS, "NameHasOwner", "s", (name,))[0])

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()


def shell_extension(bus: Bus) -> DBusAddress:
    """Jarvis's extension, addressed by the unique name of GNOME Shell's own connection.

    Any program of the user could own local.jarvis.Shell while the extension is not running and
    serve a window list without the excluded windows in it: the name counts only when GNOME
    Shell owns it, and calls then go to that connection, not to whoever owns the name later.
    """
    try:
        (extension,) = bus.call(MESSAGE_BUS, "GetNameOwner", "s", (EXTENSION.bus_name,))
    except DBusCallError as exc:
        raise DBusCallError(f"{EXTENSION.bus_name} has no owner", exc.name) from exc
    (shell,) = bus.call(MESSAGE_BUS, "GetNameOwner", "s", (SHELL.bus_name,))
    if extension != shell:
        raise ImpostorError(
            f"{EXTENSION.bus_name} is owned by a program other than GNOME Shell ({extension}, "
            f"while GNOME Shell is {shell}): Jarvis does not trust its window list and captures "
            "nothing. Find and stop that program, or log out and back in"
        )
    return DBusAddress(EXTENSION.object_path, bus_name=extension, interface=EXTENSION.interface)


class ImpostorError(PlatformError):
    """Jarvis's bus name is held by a program other than GNOME Shell."""
