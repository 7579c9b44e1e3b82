"""The thread of an active-window watch that reads a compositor's events (sway, KWin, GNOME).

Each watch says how it reads the active window at each event (`_changes`), how to wake its
thread from a blocking read (`_interrupt`) and what to release when the thread ends
(`_release`); this class reports each change once, a failure once unless the watch was asked to
stop, and stops when asked, any number of times (the `WindowWatch` protocol).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator

from jarvis_platform.errors import PlatformError
from jarvis_platform.types import ActiveWindow

__all__ = ["WatchThread"]


class WatchThread(ABC):
    """A running watch: call `_start_thread` at the end of `__init__`, its connections made."""

    _on_change: Callable[[ActiveWindow], None]
    _on_error: Callable[[PlatformError], None]
    _stopping: threading.Event
    _thread: threading.Thread

    def _start_thread(
        self,
        name: str,
        on_change: Callable[[ActiveWindow], None],
        on_error: Callable[[PlatformError], None],
    ) -> None:
        self._on_change, self._on_error = on_change, on_error
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @abstractmethod
    def _changes(self) -> Iterator[ActiveWindow]:
        """The active window now, then again after each event (blocking between them); raises
        PlatformError when the connection is lost."""

    @abstractmethod
    def _interrupt(self) -> None:
        """Wake the thread from its blocking read (it then ends)."""

    @abstractmethod
    def _release(self) -> None:
        """Close the connections (on the watch's thread, as it ends)."""

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        last: ActiveWindow | None = None
        try:
            for current in self._changes():
                if current != last:
                    last = current
                    self._on_change(current)
        except PlatformError as exc:
            if not self._stopping.is_set():
                self._on_error(exc)
        finally:
            self._release()

    def stop(self) -> None:
        """Stop the thread and wait for it (unless called from it)."""
        if not self._stopping.is_set():
            self._stopping.set()
            self._interrupt()
        if self._thread is not threading.current_thread():
            self._thread.join()
