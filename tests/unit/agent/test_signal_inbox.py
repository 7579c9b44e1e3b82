"""`jarvis run --headless` hears SIGTERM, SIGINT and SIGHUP through a socket, not a handler."""

from __future__ import annotations

import os
import signal
import threading

from jarvis_agent.cli.runtime import SignalInbox


def test_signals_arrive_as_messages_even_while_a_lock_is_held() -> None:
    """A stop signal that lands while the main thread holds a lock (the old handler's Event lock
    deadlocked exactly there) is read as "stop"; SIGHUP as "reload"; the old handlers return."""
    before = signal.getsignal(signal.SIGTERM)
    held = threading.Lock()
    with SignalInbox() as inbox:
        os.kill(os.getpid(), signal.SIGHUP)
        assert inbox.next() == "reload"
        with held:
            os.kill(os.getpid(), signal.SIGTERM)
            len([held])  # a call: Python runs its signal handlers here, with the lock held
        assert inbox.next() == "stop"
        os.kill(os.getpid(), signal.SIGINT)
        assert inbox.next() == "stop"
    assert signal.getsignal(signal.SIGTERM) == before
