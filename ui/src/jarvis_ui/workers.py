"""Running blocking work off the GUI thread and getting the result back on it.

The GUI thread never waits on disk or network: `submit` hands a callable to a QThreadPool and
delivers its result (or its exception) to callbacks that run on the thread that called `submit`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)


class _Relay(QObject):
    """Lives on the submitting thread, so its signals are queued back to that thread."""

    done = Signal(object)
    failed = Signal(object)


class _Task(QRunnable):
    def __init__(self, fn: Callable[[], Any], relay: _Relay) -> None:
        super().__init__()
        self._fn = fn
        self._relay = relay

    def run(self) -> None:
        try:
            result = self._fn()
        except Exception as exc:  # delivered to the caller's on_error, never lost
            log.debug("background task failed", exc_info=True)
            self._relay.failed.emit(exc)
        else:
            self._relay.done.emit(result)


class Worker(QObject):
    """Submits callables to a thread pool; results come back through `done`/`failed` callbacks."""

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        self._pool = pool if pool is not None else QThreadPool.globalInstance()
        self._pending: set[_Relay] = set()

    def submit(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run `fn` on the pool; its result or error is delivered on this object's thread."""
        relay = _Relay(self)
        self._pending.add(relay)

        def finish() -> None:
            self._pending.discard(relay)
            relay.deleteLater()

        def deliver(result: object) -> None:
            finish()
            on_done(result)

        def fail(exc: object) -> None:
            finish()
            if on_error is not None and isinstance(exc, BaseException):
                on_error(exc)

        relay.done.connect(deliver)
        relay.failed.connect(fail)
        self._pool.start(_Task(fn, relay))

    def wait(self, msecs: int = -1) -> bool:
        """Wait for the pool's tasks (tests and shutdown only; never from a GUI event handler)."""
        return self._pool.waitForDone(msecs)
