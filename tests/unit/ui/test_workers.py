"""Background work: results and errors come back on the GUI thread, never touching it meanwhile."""

from __future__ import annotations

import threading

from pytestqt.qtbot import QtBot

from jarvis_ui.workers import Worker


def test_result_is_delivered_on_the_gui_thread(qtbot: QtBot) -> None:
    """The callable runs on a pool thread; its result reaches the callback on the GUI thread."""
    worker = Worker()
    ran_on: list[threading.Thread] = []
    delivered: list[tuple[object, threading.Thread]] = []

    def job() -> int:
        ran_on.append(threading.current_thread())
        return 42

    worker.submit(job, lambda result: delivered.append((result, threading.current_thread())))
    qtbot.waitUntil(lambda: bool(delivered))
    assert ran_on[0] is not threading.main_thread()
    assert delivered == [(42, threading.main_thread())]


def test_errors_reach_the_error_callback(qtbot: QtBot) -> None:
    """An exception in the job is handed to on_error on the GUI thread, not swallowed."""
    worker = Worker()
    errors: list[tuple[BaseException, threading.Thread]] = []

    def job() -> None:
        raise OSError("disk on fire")

    worker.submit(job, lambda _: None, lambda exc: errors.append((exc, threading.current_thread())))
    qtbot.waitUntil(lambda: bool(errors))
    assert str(errors[0][0]) == "disk on fire"
    assert errors[0][1] is threading.main_thread()
