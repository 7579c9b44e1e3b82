"""Fixture `secret_service`: a real Secret Service (gnome-keyring) on a private D-Bus session.

The daemon runs with a private HOME so its login keyring is fresh and unlocked from stdin (see
../shared/TESTBED.md). The fixture points DBUS_SESSION_BUS_ADDRESS at the private bus for the
whole session and re-selects the `keyring` backend, so `keyring.get_password` and friends talk
to the real Secret Service, exactly as on a GNOME desktop. Child processes inherit the address.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

_UNLOCK_PASSWORD = b"jarvis-tests"


@dataclass(frozen=True, slots=True)
class SecretService:
    """The running Secret Service: its bus address and the private HOME of its keyring."""

    bus_address: str
    home: Path

    @property
    def environ(self) -> dict[str, str]:
        """Variables a child process needs to reach this Secret Service."""
        return {"DBUS_SESSION_BUS_ADDRESS": self.bus_address}


def _start_bus(home: Path) -> tuple[subprocess.Popen[bytes], str]:
    config = home / "session.conf"
    # The stock session config asks for a 65536 fd limit and logs a harmless error when it
    # cannot raise it; a minimal config keeps the test output clean.
    config.write_text(
        "<!DOCTYPE busconfig PUBLIC '-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN'"
        " 'http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd'>\n"
        "<busconfig><type>session</type>"
        f"<listen>unix:dir={home}</listen>"
        "<auth>EXTERNAL</auth>"
        "<policy context='default'><allow send_destination='*' eavesdrop='true'/>"
        "<allow eavesdrop='true'/><allow own='*'/></policy>"
        "</busconfig>\n"
    )
    bus = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert bus.stdout is not None
    address = bus.stdout.readline().decode().strip()
    if not address:
        bus.kill()
        bus.wait()
        pytest.fail("dbus-daemon did not print a bus address; is the dbus package installed?")
    return bus, address


def _start_keyring(home: Path, address: str) -> subprocess.Popen[bytes]:
    runtime = home / "run"
    runtime.mkdir(mode=0o700)
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_DATA_HOME": str(home / "data"),
        "DBUS_SESSION_BUS_ADDRESS": address,
    }
    daemon = subprocess.Popen(
        [
            "gnome-keyring-daemon",
            "--foreground",
            "--unlock",
            "--components=secrets",
            f"--control-directory={runtime / 'keyring'}",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert daemon.stdin is not None
    assert daemon.stdout is not None
    daemon.stdin.write(_UNLOCK_PASSWORD)
    daemon.stdin.close()
    # The daemon prints its environment (GNOME_KEYRING_CONTROL=...) once it is initialised.
    if not daemon.stdout.readline():
        daemon.kill()
        daemon.wait()
        pytest.fail("gnome-keyring-daemon exited at start; is the gnome-keyring package installed?")
    return daemon


def _wait_for_secret_service(address: str, daemon: subprocess.Popen[bytes]) -> None:
    """Block until org.freedesktop.secrets has an owner on the bus (claimed after start-up)."""
    from jeepney import DBusAddress, MessageType, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    bus = DBusAddress(
        "/org/freedesktop/DBus", bus_name="org.freedesktop.DBus", interface="org.freedesktop.DBus"
    )
    with open_dbus_connection(bus=address) as conn:
        for _ in range(300):
            reply = conn.send_and_get_reply(
                new_method_call(bus, "NameHasOwner", "s", ("org.freedesktop.secrets",))
            )
            if reply.header.message_type is MessageType.method_return and reply.body[0]:
                return
            if daemon.poll() is not None:
                break
            time.sleep(0.05)
    pytest.fail("gnome-keyring-daemon never offered org.freedesktop.secrets on the test bus")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def secret_service() -> Iterator[SecretService]:
    """A real, unlocked gnome-keyring on a private D-Bus session; `keyring` uses it."""
    for tool in ("dbus-daemon", "gnome-keyring-daemon"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed; run scripts/bootstrap.sh (dbus, gnome-keyring)")
    import keyring
    from keyring.backends import SecretService as SecretServiceBackend

    home = Path(tempfile.mkdtemp(prefix="jarvis-keyring-"))
    bus, address = _start_bus(home)
    daemon: subprocess.Popen[bytes] | None = None
    saved = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    previous = keyring.get_keyring()
    try:
        daemon = _start_keyring(home, address)
        _wait_for_secret_service(address, daemon)
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
        # `keyring` detects its backends once per process and caches the answer, so a detection
        # made before this bus existed would miss it: install the Secret Service backend
        # directly. Its `priority` raises when the service is unreachable.
        backend = SecretServiceBackend.Keyring()  # type: ignore[no-untyped-call]
        assert backend.priority > 0
        keyring.set_keyring(backend)
        yield SecretService(bus_address=address, home=home)
    finally:
        if saved is None:
            os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
        else:
            os.environ["DBUS_SESSION_BUS_ADDRESS"] = saved
        keyring.set_keyring(previous)
        if daemon is not None:
            _stop(daemon)
        _stop(bus)
        shutil.rmtree(home, ignore_errors=True)
