"""Screen lock over D-Bus: a real session bus (dbus-daemon) and a real screensaver service on it.

The service is a small jeepney server answering org.freedesktop.ScreenSaver.GetActive, as KDE,
XFCE and light-locker do; the probe and the X11 platform ask it over the bus like on a desktop.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from jeepney import HeaderFields, MessageType, new_error, new_method_return
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

from jarvis_platform.screen_lock import SessionLockProbe, default_lock_sources
from jarvis_platform.x11 import X11Platform
from tests.support.desktop import Desktop


@pytest.fixture
def session_bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private D-Bus session bus; DBUS_SESSION_BUS_ADDRESS points at it."""
    socket = tmp_path / "bus"
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", f"--address=unix:path={socket}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while not socket.exists():
            assert daemon.poll() is None, "dbus-daemon exited"
            assert time.monotonic() < deadline, "dbus-daemon did not create its socket"
            time.sleep(0.02)
        address = f"unix:path={socket}"
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        yield address
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)


class ScreenSaverService:
    """org.freedesktop.ScreenSaver on the bus, answering GetActive with `active`."""

    def __init__(self, address: str) -> None:
        self.active = False
        self.conn = open_dbus_connection(bus=address)
        reply = self.conn.send_and_get_reply(
            message_bus.RequestName("org.freedesktop.ScreenSaver"), timeout=5
        )
        assert reply.body[0] == 1  # primary owner
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                msg = self.conn.receive(timeout=0.1)
            except TimeoutError:
                continue
            except OSError:
                return
            if msg.header.message_type is not MessageType.method_call:
                continue
            if msg.header.fields.get(HeaderFields.member) == "GetActive":
                self.conn.send(new_method_return(msg, "b", (self.active,)))
            else:
                self.conn.send(new_error(msg, "org.freedesktop.DBus.Error.UnknownMethod"))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with contextlib.suppress(OSError):
            self.conn.close()


@pytest.fixture
def screensaver(session_bus: str) -> Iterator[ScreenSaverService]:
    service = ScreenSaverService(session_bus)
    try:
        yield service
    finally:
        service.stop()


def session_sources() -> SessionLockProbe:
    sources = [s for s in default_lock_sources() if s.bus == "SESSION"]
    return SessionLockProbe(sources, timeout=2.0)


def test_screensaver_service_says_locked_or_not(screensaver: ScreenSaverService) -> None:
    """The probe reports exactly what the desktop's screensaver service says."""
    probe = session_sources()
    assert not probe.locked(time.monotonic())
    screensaver.active = True
    assert probe.locked(time.monotonic())
    screensaver.active = False
    assert not probe.locked(time.monotonic())


@pytest.mark.usefixtures("session_bus")
def test_no_screensaver_service_means_unlocked_and_is_not_asked_every_tick() -> None:
    """Without a screensaver service the session counts as unlocked; the absence is remembered."""
    probe = session_sources()
    now = time.monotonic()
    assert not probe.locked(now)
    assert probe._absent_until  # both session sources were found absent
    assert all(until > now for until in probe._absent_until.values())


@pytest.mark.x11
def test_x11_platform_reports_the_lock_from_the_session_bus(
    x_windows: Desktop, screensaver: ScreenSaverService
) -> None:
    """A locked session on the bus makes the X11 platform report locked (so nothing is captured)."""
    platform = X11Platform(x_windows.display, lock_probe=session_sources())
    try:
        assert not platform.is_locked()
        screensaver.active = True
        assert platform.is_locked()
    finally:
        platform.close()
