"""Running blocking work off the GUI thread and getting the result back on it.

The GUI thread never waits on disk or network: `submit` hands a callable to a QThreadPool and
delivers its result (or its exception) to callbacks on the GUI thread.

Other threads never hold a Qt object, not even for a moment: they hand over through `Inbox`, one
QObject that lives as long as the application, by key. Anything that may own a Qt object (the
callable, its result, the callbacks) is released on the GUI thread. A thread that emitted on a
per-call QObject could still hold the last Python reference to it after the GUI thread had
`deleteLater`-ed it, and freeing that wrapper on the pool thread while the GUI thread destroyed
the object crashed the process.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QRunnable, Qt, QThread, QThreadPool, Signal

log = logging.getLogger(__name__)


class Inbox(QObject):
    """The hand-over point from any thread to the GUI thread (one per application).

    The GUI thread registers a handler and gets a key; any thread may `post(key, payload)`, and
    the handler runs on the GUI thread with the payload. A payload must be plain data (no
    QObject): the posting thread keeps its own reference to it. Posts for a key that is no longer
    registered are dropped.
    """

    _wake = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._ready: deque[tuple[int, object]] = deque()
        self._handlers: dict[int, Callable[[object], None]] = {}  # GUI thread only
        self._keys = itertools.count(1)
        # Always queued, also when posted from the GUI thread: handlers never run re-entrantly.
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)

    def register(self, handler: Callable[[object], None]) -> int:
        """GUI thread: call `handler(payload)` for each post to the returned key."""
        key = next(self._keys)
        self._handlers[key] = handler
        return key

    def unregister(self, key: int) -> None:
        """GUI thread: drop the handler; later posts to `key` are ignored (idempotent)."""
        self._handlers.pop(key, None)

    def post(self, key: int, payload: object = None) -> None:
        """Any thread: run the handler of `key` with `payload` on the GUI thread, soon."""
        with self._lock:
            self._ready.append((key, payload))
        self._wake.emit()

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._ready:
                    return
                key, payload = self._ready.popleft()
            handler = self._handlers.get(key)
            if handler is None:
                continue
            try:
                handler(payload)
            except BaseException:
                # The error goes on to Qt's handler as any slot's would; the rest waits for the
                # next round.
                self._wake.emit()
                raise


_inbox: Inbox | None = None


def inbox() -> Inbox:
    """The application's inbox; created on first use, which must be on the GUI thread."""
    global _inbox
    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("the Qt application must exist before background work is submitted")
    if _inbox is None or not shiboken6.isValid(_inbox):
        if QThread.currentThread() != app.thread():
            raise RuntimeError("the inbox must be created on the GUI thread")
        # A child of the application: it lives exactly as long as the application does.
        _inbox = Inbox(app)
    return _inbox


def _strip_tracebacks(exc: BaseException) -> BaseException:
    # A traceback keeps the frames of the job, and so the job's closure, alive: dropped here so
    # that nothing Qt-owning outlives the job on the pool thread.
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.__traceback__ = None
        current = current.__cause__ or current.__context__
    return exc


class _Job:
    """One submitted callable and its outcome; emptied on the GUI thread when delivered."""

    __slots__ = ("fn", "ok", "value")

    def __init__(self, fn: Callable[[], Any]) -> None:
        self.fn: Callable[[], Any] | None = fn
        self.ok = False
        self.value: object = None

    def run(self) -> None:
        fn = self.fn
        if fn is None:
            return
        try:
            self.value = fn()
            self.ok = True
        except Exception as exc:  # delivered to the caller's on_error, never lost
            log.debug("background task failed", exc_info=True)
            self.value = _strip_tracebacks(exc)
        del fn  # the job keeps it until the GUI thread takes it


class _Task(QRunnable):
    """Runs on a pool thread; holds only the job (plain Python) and its key."""

    def __init__(self, job: _Job, key: int) -> None:
        super().__init__()
        self._job = job
        self._key = key

    def run(self) -> None:
        self._job.run()
        box = _inbox
        if box is not None:
            box.post(self._key)


class Worker(QObject):
    """Submits callables to a thread pool; results come back through `done`/`failed` callbacks.

    When the worker (or the widget that owns it) is deleted before a job finishes, the job's
    callbacks are dropped instead of reaching the deleted widgets.
    """

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        self._pool = pool if pool is not None else QThreadPool.globalInstance()
        self._inbox = inbox()

    def submit(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None],
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run `fn` on the pool; its result or error is delivered on the GUI thread."""
        job = _Job(fn)
        box = self._inbox
        key = 0

        def deliver(_: object) -> None:
            box.unregister(key)
            ok, value = job.ok, job.value
            job.fn = job.value = None  # whatever the pool thread still holds is an empty shell
            if not shiboken6.isValid(self):
                log.debug("a background result arrived after its owner was deleted")
                return
            if ok:
                on_done(value)
            elif on_error is not None and isinstance(value, BaseException):
                on_error(value)

        key = box.register(deliver)
        self._pool.start(_Task(job, key))

    def wait(self, msecs: int = -1) -> bool:
        """Wait for the pool's tasks (tests and shutdown only; never from a GUI event handler)."""
        return self._pool.waitForDone(msecs)
