"""Background work: results and errors come back on the GUI thread, never touching it meanwhile."""

from __future__ import annotations

import threading

import shiboken6
from PySide6.QtCore import QThreadPool
from PySide6.QtWidgets import QWidget
from pytestqt.qtbot import QtBot

from jarvis_ui.workers import Worker, inbox


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


def test_results_for_a_deleted_owner_are_dropped(qtbot: QtBot) -> None:
    """A job still running when its widget is deleted finishes without reaching the widget."""
    owner = QWidget()
    worker = Worker(owner)
    release = threading.Event()
    delivered: list[object] = []
    worker.submit(lambda: release.wait(10), delivered.append, delivered.append)
    owner.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(worker))
    release.set()
    assert worker_pool_done()
    qtbot.wait(50)
    assert delivered == []


def test_inbox_posts_reach_the_gui_thread_until_unregistered(qtbot: QtBot) -> None:
    """Posts from another thread reach the handler on the GUI thread until it unregisters."""
    box = inbox()
    seen: list[tuple[object, threading.Thread]] = []
    key = box.register(lambda payload: seen.append((payload, threading.current_thread())))
    poster = threading.Thread(target=box.post, args=(key, "first"))
    poster.start()
    poster.join()
    qtbot.waitUntil(lambda: bool(seen))
    assert seen == [("first", threading.main_thread())]
    box.unregister(key)
    poster = threading.Thread(target=box.post, args=(key, "late"))
    poster.start()
    poster.join()
    qtbot.wait(50)
    assert seen == [("first", threading.main_thread())]


def worker_pool_done() -> bool:
    return QThreadPool.globalInstance().waitForDone(10_000)
