"""Fixtures: a private D-Bus session bus, and KDE's real kglobalaccel daemon on one.

`session_bus` starts a dbus-daemon of the test's own and points DBUS_SESSION_BUS_ADDRESS at it
(jeepney reads the variable on every connection), so nothing reaches the machine's own bus.
`kglobalaccel` runs /usr/bin/kglobalaccel5 (Debian's libkf5globalaccel-bin) on that bus. On an X
server (`running_kglobalaccel(bus, display)`) it grabs its keys there, so xdotool presses them as
a user would; headless (QT_QPA_PLATFORM=offscreen) it grabs no keys ("Could not find any
platform plugin") but keeps its whole D-Bus side: registration, shortcuts, components and
invokeShortcut, which emits the same globalShortcutPressed signal a key press does. In a Plasma
Wayland session KWin serves the same interface.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.wayland import wait_for


@dataclass
class SessionBus:
    address: str
    process: subprocess.Popen[bytes]
    home: Path

    def call(self, *args: str) -> str:
        """dbus-send against this bus (an independent reader of what a service holds): args
        are destination, path, interface.method, then dbus-send's typed arguments."""
        done = subprocess.run(
            ["dbus-send", "--session", "--print-reply", f"--dest={args[0]}", *args[1:]],
            env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": self.address},
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"dbus-send {' '.join(args)}: {done.stdout}{done.stderr}")
        # The reply's values, without dbus-send's header line.
        return " ".join(done.stdout.split("\n", 1)[1:]).strip()

    def has_owner(self, name: str) -> bool:
        try:
            reply = self.call(
                "org.freedesktop.DBus", "/", "org.freedesktop.DBus.NameHasOwner", f"string:{name}"
            )
        except RuntimeError:
            return False
        return reply.endswith("true")


def start_session_bus() -> SessionBus:
    home = Path(tempfile.mkdtemp(prefix="jarvis-bus-"))
    process = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(home)},
    )
    assert process.stdout is not None
    address = process.stdout.readline().decode().strip()
    if not address:
        process.kill()
        raise RuntimeError("dbus-daemon printed no address")
    return SessionBus(address, process, home)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def session_bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[SessionBus]:
    """A private session bus for the test. It has no unlocked Secret Service: a keyring read
    there would activate a locked gnome-keyring that waits for a password prompt no one
    answers, and hold a thread of Qt's pool forever. So the test's keyring is "none" (keyring's
    own fail backend: every read says there is no keyring) until the bus is gone."""
    bus = start_session_bus()
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", bus.address)
    try:
        with no_keyring():
            yield bus
    finally:
        stop(bus.process)
        shutil.rmtree(bus.home, ignore_errors=True)


@contextlib.contextmanager
def no_keyring() -> Iterator[None]:
    """keyring's fail backend while a test talks to a session bus with no unlocked Secret
    Service (see `session_bus`)."""
    import keyring
    from keyring.backends import fail

    saved = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        yield
    finally:
        keyring.set_keyring(saved)


@contextlib.contextmanager
def running_kglobalaccel(bus: SessionBus, display: str | None) -> Iterator[SessionBus]:
    """kglobalaccel5 on `bus`: headless, or grabbing its keys on the X server `display`."""
    if shutil.which("kglobalaccel5") is None:
        pytest.fail("kglobalaccel5 is not installed: run scripts/bootstrap.sh")
    env = {
        **os.environ,
        "DBUS_SESSION_BUS_ADDRESS": bus.address,
        "QT_QPA_PLATFORM": "offscreen" if display is None else "xcb",
        "HOME": str(bus.home),
        "XDG_CONFIG_HOME": str(bus.home / "config"),
    }
    if display is not None:
        env["DISPLAY"] = display
    process = subprocess.Popen(
        ["kglobalaccel5"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for(lambda: bus.has_owner("org.kde.kglobalaccel"), "kglobalaccel on the bus")
        yield bus
    finally:
        stop(process)


@pytest.fixture
def kglobalaccel(session_bus: SessionBus) -> Iterator[SessionBus]:
    """kglobalaccel5 serving org.kde.kglobalaccel on the private session bus (no keys)."""
    with running_kglobalaccel(session_bus, None) as bus:
        yield bus
