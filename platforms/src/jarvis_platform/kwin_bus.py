"""One session-bus connection to KWin (jeepney): load and run scripts, take their calls back.

Each connection has its own unique name, which the scripts it loads call back; a call is accepted
only from the current owner of org.kde.KWin, so no other program on the bus can feed Jarvis a
window list. Scripts are written to a private 0700 directory and unloaded after use.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from jeepney import (  # type: ignore[import-untyped]  # jeepney ships no type hints
    DBusAddress,
    MatchRule,
    MessageType,
    new_error,
    new_method_call,
    new_method_return,
)
from jeepney.io.blocking import open_dbus_connection  # type: ignore[import-untyped]

from jarvis_platform.errors import PlatformError, UnsupportedSessionError

__all__ = ["KWIN", "SCRIPT_TIMEOUT", "KWinBus"]

KWIN = "org.kde.KWin"
SCRIPT_TIMEOUT = 10.0  # seconds for KWin to run a script and call back (a loaded box is slow)
_SCRIPTING = DBusAddress("/Scripting", bus_name=KWIN, interface="org.kde.kwin.Scripting")
_BUS = DBusAddress(
    "/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus"
)
_names = itertools.count()

SCRIPT_REFUSED = (
    "KWin did not run Jarvis's window-list script ({why}), so Jarvis cannot see which windows "
    "are on screen and captures nothing. Check that KWin scripting is enabled (System Settings > "
    "Window Management > KWin Scripts is present) and run `jarvis doctor` again."
)


def _error_name(reply: Any) -> str:
    from jeepney import HeaderFields

    return str(reply.header.fields.get(HeaderFields.error_name, "error"))


class KWinBus:
    """A connection to the session bus for talking to KWin; not thread-safe (one per thread)."""

    def __init__(self, *, enable_fds: bool = False, address: str | None = None) -> None:
        try:
            self.conn = open_dbus_connection(bus=address or "SESSION", enable_fds=enable_fds)
        except Exception as exc:  # jeepney raises KeyError, OSError, ... without a session bus
            raise UnsupportedSessionError(
                f"cannot reach the D-Bus session bus ({type(exc).__name__}: {exc}), where KWin "
                "answers: start Jarvis from inside your Plasma session"
            ) from exc
        self.name: str = self.conn.unique_name
        self._dir: Path | None = None

    def call(
        self,
        address: DBusAddress,
        method: str,
        signature: str = "",
        body: tuple[Any, ...] = (),
        *,
        timeout: float = SCRIPT_TIMEOUT,
    ) -> Any:
        """A method call's reply; an error reply is returned as is (the caller reads it)."""
        message = new_method_call(address, method, signature or None, body)
        try:
            return self.conn.send_and_get_reply(message, timeout=timeout)
        except (OSError, TimeoutError, ConnectionError) as exc:
            raise PlatformError(f"lost the D-Bus connection to KWin ({exc})") from exc

    def kwin_owner(self) -> str:
        """The unique name owning org.kde.KWin now; raises when KWin is not on the bus."""
        reply = self.call(_BUS, "GetNameOwner", "s", (KWIN,))
        if reply.header.message_type is MessageType.error:
            raise UnsupportedSessionError(
                "KWin is not on the D-Bus session bus (no org.kde.KWin): is this a Plasma "
                "session, and was Jarvis started inside it?"
            )
        return str(reply.body[0])

    def _script_file(self, text: str) -> str:
        if self._dir is None:
            base = os.environ.get("XDG_RUNTIME_DIR") or None
            self._dir = Path(tempfile.mkdtemp(prefix="jarvis-kwin-", dir=base))
        path = self._dir / f"script-{next(_names)}.js"
        path.write_text(text)
        path.chmod(0o600)
        return str(path)

    def plugin_name(self, what: str) -> str:
        """A plugin name unique to this connection and use, as KWin wants one per script."""
        return f"jarvis-{what}-{re.sub(r'[^0-9A-Za-z]', '_', self.name)}-{next(_names)}"

    def load(self, text: str, plugin: str) -> int:
        """Load `text` as a KWin script named `plugin` and start it; returns its id."""
        path = self._script_file(text)
        reply = self.call(_SCRIPTING, "loadScript", "ss", (path, plugin))
        if reply.header.message_type is MessageType.error:
            raise UnsupportedSessionError(
                SCRIPT_REFUSED.format(why=f"loadScript failed: {_error_name(reply)}")
            )
        script_id = int(reply.body[0])
        if script_id < 0:
            raise UnsupportedSessionError(SCRIPT_REFUSED.format(why="loadScript returned -1"))
        run = DBusAddress(f"/{script_id}", bus_name=KWIN, interface="org.kde.kwin.Script")
        reply = self.call(run, "run")
        if reply.header.message_type is MessageType.error:
            self.unload(plugin)
            raise UnsupportedSessionError(
                SCRIPT_REFUSED.format(why=f"running it failed: {_error_name(reply)}")
            )
        return script_id

    def unload(self, plugin: str) -> None:
        with contextlib.suppress(PlatformError):
            self.call(_SCRIPTING, "unloadScript", "s", (plugin,))

    def run_once(self, text: str, path: str) -> tuple[Any, ...]:
        """Run a one-shot script and return the arguments of its call to `path`."""
        owner = self.kwin_owner()
        plugin = self.plugin_name("report")
        rule = MatchRule(type="method_call", path=path)
        with self.conn.filter(rule, bufsize=8) as queue:
            self.load(text, plugin)
            try:
                while True:
                    try:
                        message = self.conn.recv_until_filtered(queue, timeout=SCRIPT_TIMEOUT)
                    except TimeoutError as exc:
                        raise UnsupportedSessionError(
                            SCRIPT_REFUSED.format(
                                why=f"it did not report back within {SCRIPT_TIMEOUT:.0f} s"
                            )
                        ) from exc
                    if self.accept(message, owner):
                        return tuple(message.body)
            finally:
                self.unload(plugin)

    def accept(self, message: Any, owner: str) -> bool:
        """Answer a call made to us; True when it came from KWin (others get an error)."""
        from jeepney import HeaderFields

        sender = message.header.fields.get(HeaderFields.sender)
        if sender != owner:
            self.conn.send(
                new_error(message, "org.freedesktop.DBus.Error.AccessDenied", "s", ("not KWin",))
            )
            return False
        self.conn.send(new_method_return(message))
        return True

    def shutdown(self) -> None:
        """Wake a thread blocked reading this connection (it then fails); any thread."""
        with contextlib.suppress(OSError):
            self.conn.sock.shutdown(2)

    def close(self) -> None:
        self.conn.close()
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
