"""xdg-desktop-portal (the frontend) on a test desktop's session bus, and KDE's backend for it.

The portal identifies its caller through /proc/PID/root, which it may open only for processes
of its own uid: on a desktop the portal and Jarvis are the same user; here the tests (root) call
it, so the tests run it too. It picks each interface's backend by XDG_CURRENT_DESKTOP (a
backend's `UseIn=`), falling back to any backend that has the interface.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from tests.support.processes import start_process
from tests.support.session_bus import stop
from tests.support.wayland import wait_for

PORTAL = "/usr/libexec/xdg-desktop-portal"
KDE_BACKEND = "/usr/lib/x86_64-linux-gnu/libexec/xdg-desktop-portal-kde"


def _owned(bus_address: str, name: str) -> bool:
    done = subprocess.run(
        ["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus", "/",
         "org.freedesktop.DBus.NameHasOwner", f"string:{name}"],
        env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": bus_address},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return done.returncode == 0 and done.stdout.rstrip().endswith("true")


def start_portal(
    bus_address: str, runtime: Path, desktop: str, log: Path, timeout: float, **extra: str
) -> subprocess.Popen[bytes]:
    """The portal frontend on `bus_address` for desktop `desktop`, once it owns its name.
    `runtime` is its own 0700 HOME and XDG_RUNTIME_DIR; `extra` adds to its environment."""
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(runtime),
        "XDG_RUNTIME_DIR": str(runtime),
        "DBUS_SESSION_BUS_ADDRESS": bus_address,
        "XDG_CURRENT_DESKTOP": desktop,
        **extra,
    }
    with log.open("wb") as stderr:
        process = start_process([PORTAL, "--replace"], env=env, stderr=stderr)
    wait_for(lambda: _owned(bus_address, "org.freedesktop.portal.Desktop"), "the portal", timeout)
    return process


def start_kde_backend(bus_address: str, runtime: Path, log: Path) -> subprocess.Popen[bytes]:
    """xdg-desktop-portal-kde on `bus_address`, started before the frontend (which looks for
    its backends once, at start). Qt runs offscreen: Debian's Qt has no Wayland plugin without
    qtwayland5, and nothing here needs the backend's dialogs drawn."""
    if not Path(KDE_BACKEND).exists():
        raise RuntimeError("xdg-desktop-portal-kde is not installed: run scripts/bootstrap.sh")
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(runtime),
        "XDG_RUNTIME_DIR": str(runtime),
        "DBUS_SESSION_BUS_ADDRESS": bus_address,
        "XDG_CURRENT_DESKTOP": "KDE",
        "QT_QPA_PLATFORM": "offscreen",
    }
    with log.open("wb") as stderr:
        process = start_process([KDE_BACKEND], env=env, stderr=stderr)
    wait_for(
        lambda: _owned(bus_address, "org.freedesktop.impl.portal.desktop.kde"),
        "xdg-desktop-portal-kde",
    )
    return process


@contextlib.contextmanager
def kde_portal(bus_address: str, base: Path, **extra: str) -> Iterator[subprocess.Popen[bytes]]:
    """xdg-desktop-portal with KDE's backend (GlobalShortcuts, over the bus's kglobalaccel) on
    `bus_address`, as in a Plasma session, logging under `base`; stopped afterwards. Yields the
    frontend's process. `extra` adds to the frontend's environment (WAYLAND_DISPLAY)."""
    runtime = base / "portal-runtime"
    backend = start_kde_backend(bus_address, runtime, base / "portal-kde.log")
    try:
        portal = start_portal(bus_address, runtime, "KDE", base / "portal.log", 30.0, **extra)
        try:
            yield portal
        finally:
            stop(portal)
    finally:
        stop(backend)
