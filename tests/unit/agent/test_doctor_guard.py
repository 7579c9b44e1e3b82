"""`jarvis doctor` prints a line for every check, even when a check's service never answers."""

from __future__ import annotations

import threading

from jarvis_agent.doctor import Check, _guard


def test_a_check_that_never_returns_fails_after_its_deadline() -> None:
    """A check blocked forever (a D-Bus service or compositor that stopped answering) becomes a
    FAIL line naming the wait, and the doctor goes on to the next check."""
    never = threading.Event()

    def stuck() -> Check:
        never.wait()
        return Check("screen capture", True, "unreachable")

    try:
        check = _guard("screen capture", stuck, seconds=1.0)
    finally:
        never.set()
    assert not check.ok
    assert check.name == "screen capture"
    assert check.detail == "no answer within 1 s"


def test_a_check_that_raises_fails_with_the_error() -> None:
    """A crashing check is a failed check naming the error, not a crashed doctor."""

    def broken() -> Check:
        raise RuntimeError("compositor went away")

    check = _guard("keyring", broken)
    assert not check.ok
    assert check.detail == "RuntimeError: compositor went away"
