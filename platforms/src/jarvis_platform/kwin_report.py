"""The window report from a resident KWin script: loaded once, asked for a fresh list each time.

The script (kwin_script.report_script) calls this connection's "next" and waits for the answer;
`report()` answers the waiting call with "report", and the script calls "report" with the list
it builds then, so every list is read from KWin at that moment (the re-read after the grab
relies on it). Loading a script costs KWin a new JavaScript engine; answering a call does not.

KWin drops a call unanswered for 25 s, which ends the script's chain of calls: a "next" older
than STALE seconds (the script sends its clock) is answered "stop", and the script is loaded
again, as it is when KWin restarted (another owner of org.kde.KWin). Calls from anyone but the
owner of org.kde.KWin are refused (KWinBus.accept).
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from typing import Any

from jeepney import HeaderFields, MatchRule, new_method_return  # type: ignore[import-untyped]

from jarvis_platform import kwin_bus
from jarvis_platform.errors import PlatformError, UnsupportedSessionError
from jarvis_platform.kwin_bus import SCRIPT_REFUSED, KWinBus
from jarvis_platform.kwin_script import REPORT_PATH, report_script

__all__ = ["ResidentReport"]

STALE = 15.0  # seconds: a "next" call this old may be dropped by KWin before it is answered


class ResidentReport:
    """Window reports through one resident script on `bus` (same thread as the bus)."""

    def __init__(self, bus: KWinBus) -> None:
        self._bus = bus
        self._queue: deque[Any] = deque(maxlen=64)
        rule = MatchRule(type="method_call", path=REPORT_PATH)
        self._filter = bus.conn.filter(rule, queue=self._queue)
        self._plugin: str | None = None
        self._owner: str | None = None

    def report(self) -> str:
        """KWin's window report (JSON text), read from KWin now."""
        if self._bus.kwin_owner() != self._owner:
            self._unload()  # KWin restarted (or never asked): the old script is gone with it
        waiting = self._waiting()
        if waiting is None:
            self._reload()
            waiting = self._receive("next")
        self._bus.conn.send(new_method_return(waiting, "s", ("report",)))
        return str(self._receive("report").body[0])

    def _waiting(self) -> Any:
        """The script's fresh "next" call, if one is queued (stale ones are told to stop)."""
        if self._plugin is None:
            return None
        conn = self._bus.conn
        try:
            while True:
                conn.recv_messages(timeout=0)
        except TimeoutError:
            pass
        except (OSError, ValueError) as exc:
            raise PlatformError(f"lost the D-Bus connection to KWin ({exc})") from exc
        fresh = None
        now = time.time() * 1000
        while self._queue:
            message = self._queue.popleft()
            if not self._from_kwin(message) or _member(message) != "next":
                continue
            try:
                sent = float(message.body[0])
            except (IndexError, TypeError, ValueError):
                sent = 0.0
            if fresh is not None or now - sent > STALE * 1000:
                conn.send(new_method_return(message, "s", ("stop",)))
            else:
                fresh = message
        return fresh

    def _reload(self) -> None:
        self._unload()
        self._queue.clear()
        self._owner = self._bus.kwin_owner()
        plugin = self._bus.plugin_name("report")
        self._bus.load(report_script(self._bus.name), plugin)
        self._plugin = plugin

    def _receive(self, member: str) -> Any:
        """The script's next call of `member` (others are answered and skipped)."""
        timeout = kwin_bus.SCRIPT_TIMEOUT
        deadline = time.monotonic() + timeout
        while True:
            try:
                message = self._bus.conn.recv_until_filtered(
                    self._queue, timeout=max(0.0, deadline - time.monotonic())
                )
            except TimeoutError as exc:
                self._unload()
                raise UnsupportedSessionError(
                    SCRIPT_REFUSED.format(why=f"it did not report back within {timeout:.0f} s")
                ) from exc
            if not self._from_kwin(message):
                continue
            if _member(message) == member:
                if member == "report":
                    self._bus.conn.send(new_method_return(message))
                return message
            self._bus.conn.send(new_method_return(message, "s", ("stop",)))

    def _from_kwin(self, message: Any) -> bool:
        sender = message.header.fields.get(HeaderFields.sender)
        if self._owner is not None and sender == self._owner:
            return True
        self._bus.accept(message, self._owner or "")  # answers AccessDenied
        return False

    def _unload(self) -> None:
        if self._plugin is not None:
            self._bus.unload(self._plugin)
            self._plugin = None
        self._queue.clear()

    def close(self) -> None:
        """Stop the script (its waiting call is answered "stop") and unload it."""
        waiting = None
        with contextlib.suppress(PlatformError, OSError):
            waiting = self._waiting()
        if waiting is not None:
            self._bus.conn.send(new_method_return(waiting, "s", ("stop",)))
        with contextlib.suppress(OSError):
            self._unload()
        self._filter.close()


def _member(message: Any) -> str:
    return str(message.header.fields.get(HeaderFields.member, ""))
