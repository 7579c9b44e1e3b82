"""Real Chromium (Debian's package) on the test desktop, with the accessibility bus on.

`chromium_session` (once per module) starts a private D-Bus session bus, the AT-SPI bus launcher
with accessibility switched on (org.a11y.Status IsEnabled, as GNOME's "assistive technologies"
switch does) and then two Chromium processes, each with a private profile:
one started normally (private windows are opened from it with Ctrl+Shift+N) and one started with
--incognito. Tests point DBUS_SESSION_BUS_ADDRESS at `bus` while they read the windows.

Pages are local files with one flat background colour each, so pixels tell them apart.
`start_chromium_session()` is the same machinery without pytest, for benchmarks/.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from Xlib import X, display, protocol

from tests.support.desktop import Desktop, DesktopError
from tests.support.processes import start_process, stop_processes

STARTUP_TIMEOUT = 60.0  # a cold Chromium on a loaded 2-core box takes a while
WORK_RGB = (255, 0, 255)  # the normal window's page
BANK_RGB = (0, 255, 0)  # the private windows' pages
CHROMIUM_FLAGS = (
    "--no-sandbox",  # tests run as root, where Chromium's sandbox cannot start
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-gpu",
    "--disable-features=Translate,MediaRouter",
    "--password-store=basic",
)


def _wait(predicate: object, what: str, timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.1)
    raise DesktopError(f"timed out after {timeout:.0f}s waiting for {what}")


def _page(directory: Path, name: str, title: str, rgb: tuple[int, int, int]) -> str:
    colour = "#{:02x}{:02x}{:02x}".format(*rgb)
    path = directory / f"{name}.html"
    path.write_text(
        f"<!doctype html><html><head><title>{title}</title></head>"
        f'<body style="margin:0;background:{colour}"></body></html>',
        encoding="utf-8",
    )
    return path.as_uri()


@dataclass
class ChromiumSession:
    """The bus, the two browser processes, and helpers to find and drive their windows."""

    desktop: Desktop
    bus: str
    workdir: Path
    normal: subprocess.Popen[bytes] | None = None
    private: subprocess.Popen[bytes] | None = None
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return {**self.desktop.env, "DBUS_SESSION_BUS_ADDRESS": self.bus}

    def page(self, name: str, title: str, rgb: tuple[int, int, int] = BANK_RGB) -> str:
        """A file:// URL of a page with this title and background colour."""
        return _page(self.workdir, name, title, rgb)

    def windows_named(self, title: str, pid: int | None = None) -> list[int]:
        """Ids of mapped windows with exactly this title (of this process, when given)."""
        command = ["xdotool", "search", "--onlyvisible", "--name", f"^{title}$"]
        if pid is not None:
            command[2:2] = ["--pid", str(pid)]
        done = subprocess.run(command, env=self.env, capture_output=True, text=True, check=False)
        return [int(line) for line in done.stdout.split()]

    def wait_window(
        self, title: str, pid: int | None = None, timeout: float = STARTUP_TIMEOUT
    ) -> int:
        found: list[int] = []

        def shown() -> bool:
            found[:] = self.windows_named(title, pid)
            return bool(found)

        _wait(shown, f"a Chromium window titled {title!r}", timeout)
        return found[-1]

    def key(self, window: int, *keys: str) -> None:
        self.desktop.run("xdotool", "windowactivate", "--sync", str(window))
        self.desktop.run("xdotool", "key", "--clearmodifiers", "--window", str(window), *keys)

    def navigate(self, window: int, url: str, title: str) -> int:
        """Load `url` in this window (as a user types it) and wait for its title to show.

        Typed again if the title does not come (a key typed while the window was still
        taking the focus is lost)."""
        for attempt in range(3):
            self.key(window, "ctrl+l")
            time.sleep(0.5)
            self.desktop.run("xdotool", "type", "--delay", "10", url)
            self.desktop.run("xdotool", "key", "--clearmodifiers", "Return")
            try:
                return self.wait_window(f"{title} - Chromium", timeout=15)
            except DesktopError:
                if attempt == 2:
                    names = self.desktop.run("xdotool", "search", "--onlyvisible", "--name", ".")
                    titles = [
                        self.desktop.run("xdotool", "getwindowname", w).strip()
                        for w in names.split()
                    ]
                    raise DesktopError(f"{title!r} did not load; windows: {titles}") from None
        raise AssertionError("unreachable")

    def open_private_window(self, normal_window: int) -> int:
        """Ctrl+Shift+N in a normal window: a private window of the same process."""
        before = set(self.windows_named("New Incognito Tab - Chromium"))
        self.key(normal_window, "ctrl+shift+n")
        found: list[int] = []

        def opened() -> bool:
            windows = self.windows_named("New Incognito Tab - Chromium")
            found[:] = [w for w in windows if w not in before]
            return bool(found)

        _wait(opened, "Ctrl+Shift+N to open a private window")
        return found[-1]

    def close_window(self, window: int) -> None:
        """Close the window as the window manager's close button does (WM_DELETE_WINDOW)."""
        d = display.Display(self.desktop.display)
        try:
            target = d.create_resource_object("window", window)
            protocols = d.intern_atom("WM_PROTOCOLS")
            message = protocol.event.ClientMessage(
                window=target,
                client_type=protocols,
                data=(32, [d.intern_atom("WM_DELETE_WINDOW"), X.CurrentTime, 0, 0, 0]),
            )
            target.send_event(message, event_mask=X.NoEventMask)
            d.sync()
        finally:
            d.close()
        _wait(lambda: window not in self.windows_named(".*"), "a Chromium window to close")

    def stop(self) -> None:
        stop_session(self.workdir, self._processes)


def start_chromium(
    workdir: Path,
    env: dict[str, str],
    processes: list[subprocess.Popen[bytes]],
    *args: str,
    profile: str,
) -> subprocess.Popen[bytes]:
    """Chromium with this profile (a directory in `workdir`, its output appended to
    <profile>.log there), added to `processes`. A second start with a running profile's directory
    hands its arguments to that process (as a desktop launcher does) and exits."""
    with (workdir / f"{profile}.log").open("ab") as log:
        process = start_process(
            ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={workdir / profile}", *args],
            env=env,
            stdout=log,
            stderr=log,
        )
    processes.append(process)
    return process


def stop_session(workdir: Path, processes: list[subprocess.Popen[bytes]]) -> None:
    """Stop the browsers and the bus (last started first) and remove their profiles."""
    stop_processes(processes)
    processes.clear()
    shutil.rmtree(workdir, ignore_errors=True)


def _accessibility_bus(env: dict[str, str], workdir: Path, processes: list[Any]) -> str:
    """A private session bus with the AT-SPI bus on it, accessibility switched on; its address.

    The processes started are appended to `processes` (stopped last to first by the caller)."""
    bus_daemon = start_process(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"], stdout=subprocess.PIPE
    )
    processes.append(bus_daemon)
    assert bus_daemon.stdout is not None
    bus = bus_daemon.stdout.readline().decode().strip()
    if not bus:
        raise DesktopError("dbus-daemon printed no address")
    env = {**env, "DBUS_SESSION_BUS_ADDRESS": bus}
    launcher = start_process(
        ["/usr/libexec/at-spi-bus-launcher", "--launch-immediately"],
        env={**env, "HOME": str(workdir)},
    )
    processes.append(launcher)

    def a11y_on() -> bool:
        done = subprocess.run(
            [
                "dbus-send", "--session", "--print-reply", "--dest=org.a11y.Bus",
                "/org/a11y/bus", "org.freedesktop.DBus.Properties.Set",
                "string:org.a11y.Status", "string:IsEnabled", "variant:boolean:true",
            ],
            env=env, capture_output=True, check=False,
        )  # fmt: skip
        return done.returncode == 0

    _wait(a11y_on, "the accessibility bus to switch on")
    return bus


def start_chromium_session(desktop: Desktop) -> ChromiumSession:
    """The accessibility bus on, then a normal and an --incognito Chromium on `desktop`."""
    if shutil.which("chromium") is None:
        raise DesktopError("chromium is not installed (scripts/bootstrap.sh installs it)")
    workdir = Path(tempfile.mkdtemp(prefix="jarvis-chromium-"))
    session = ChromiumSession(desktop=desktop, bus="", workdir=workdir)
    try:
        session.bus = _accessibility_bus(desktop.env, workdir, session._processes)
        work = session.page("work", "Work notes", WORK_RGB)
        session.normal = start_chromium(
            workdir,
            session.env,
            session._processes,
            "--window-position=0,0",
            "--window-size=900,650",
            work,
            profile="normal",
        )
        session.wait_window("Work notes - Chromium", session.normal.pid)
        bank = session.page("bank", "Bank statement", BANK_RGB)
        session.private = start_chromium(
            workdir,
            session.env,
            session._processes,
            "--incognito",
            "--window-position=1000,380",
            "--window-size=900,650",
            bank,
            profile="private",
        )
        session.wait_window("Bank statement - Chromium", session.private.pid)
        desktop.settle(timeout=30)
    except BaseException:
        session.stop()
        raise
    return session


@pytest.fixture(scope="module")
def chromium_session(x_desktop: Desktop) -> Iterator[ChromiumSession]:
    """Two real Chromium processes (normal, --incognito) with accessibility on, started once for
    the module that uses them (all such tests live in one), closed after it so no later test
    finds browser windows on the shared desktop."""
    session = start_chromium_session(x_desktop)
    try:
        yield session
    finally:
        session.stop()
