"""Fixtures: a real X desktop (Xvfb + openbox), real xterm windows, and a real tray host (trayer).

`x_desktop` (session) starts Xvfb on a display number the server picks itself (-displayfd), then
openbox, and points DISPLAY at it for the whole session. `x_windows` (per test) opens xterm windows
with chosen titles, classes, geometry and colours and closes them after the test. `tray_host`
(session) runs trayer on the same display, so QSystemTrayIcon has somewhere to live.

`start_desktop()` is the same machinery without pytest, for benchmarks/.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import mss
import pytest
from PIL import Image
from Xlib import X, Xatom, display
from Xlib.error import XError

STARTUP_TIMEOUT = 20.0  # seconds; a loaded 2-core CI box can be slow to start X clients


class DesktopError(RuntimeError):
    """The test desktop could not be started or did not reach the expected state."""


def _wait(predicate: object, what: str, timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.02)
    raise DesktopError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class Window:
    """One real xterm window on the test desktop."""

    id: int
    title: str
    wm_class: str
    process: subprocess.Popen[bytes]


@dataclass
class Desktop:
    """A running Xvfb + openbox; drive real windows on it with xdotool."""

    display: str
    width: int
    height: int
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _windows: list[Window] = field(default_factory=list)
    _workdir: Path | None = None

    # -- process plumbing -------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.display}

    def run(self, *args: str) -> str:
        """Run an X client command (xdotool, xprop) against this display and return its stdout."""
        done = subprocess.run(
            list(args), env=self.env, capture_output=True, text=True, timeout=30, check=False
        )
        if done.returncode != 0:
            raise DesktopError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr}")
        return done.stdout

    def _connect(self) -> display.Display:
        return display.Display(self.display)

    def client_windows(self) -> list[int]:
        """Managed top-level windows, bottom to top (openbox's _NET_CLIENT_LIST_STACKING)."""
        d = self._connect()
        try:
            root = d.screen().root
            prop = root.get_full_property(d.intern_atom("_NET_CLIENT_LIST_STACKING"), Xatom.WINDOW)
            return [int(w) for w in prop.value] if prop is not None else []
        finally:
            d.close()

    def active_window(self) -> int | None:
        d = self._connect()
        try:
            prop = d.screen().root.get_full_property(
                d.intern_atom("_NET_ACTIVE_WINDOW"), Xatom.WINDOW
            )
            value = int(prop.value[0]) if prop is not None and len(prop.value) else 0
            return value or None
        finally:
            d.close()

    def _window_for_pid(self, pid: int) -> int | None:
        d = self._connect()
        try:
            root = d.screen().root
            stacking = root.get_full_property(
                d.intern_atom("_NET_CLIENT_LIST_STACKING"), Xatom.WINDOW
            )
            pid_atom = d.intern_atom("_NET_WM_PID")
            extents = d.intern_atom("_NET_FRAME_EXTENTS")
            for wid in stacking.value if stacking is not None else []:
                win = d.create_resource_object("window", int(wid))
                try:
                    prop = win.get_full_property(pid_atom, Xatom.CARDINAL)
                    framed = win.get_full_property(extents, Xatom.CARDINAL)
                except XError:
                    continue
                if prop is not None and int(prop.value[0]) == pid and framed is not None:
                    return int(wid)
            return None
        finally:
            d.close()

    # -- windows ----------------------------------------------------------------------------

    def spawn_xterm(
        self,
        title: str,
        wm_class: str = "XTerm",
        geometry: str = "80x20+300+200",
        *,
        background: str = "white",
        foreground: str = "black",
        command: tuple[str, ...] = ("sleep", "3600"),
        extra: tuple[str, ...] = (),
    ) -> Window:
        """Open a real xterm with this title and WM_CLASS class; return once openbox manages it.

        The window is mapped, framed by openbox and (as openbox does for new windows) focused.
        `command` runs inside it (it must keep running: the window closes when it exits).
        `extra` are more xterm options (e.g. "-bc" for a blinking cursor).
        """
        process = subprocess.Popen(
            [
                "xterm",
                "-T",
                title,
                "-class",
                wm_class,
                "-geometry",
                geometry,
                "-bg",
                background,
                "-fg",
                foreground,
                "+sb",
                *extra,
                "-e",
                *command,
            ],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        found: list[int] = []

        def managed() -> bool:
            if process.poll() is not None:
                raise DesktopError(f"xterm {title!r} exited with {process.returncode}")
            wid = self._window_for_pid(process.pid)
            if wid is not None:
                found.append(wid)
            return wid is not None

        _wait(managed, f"xterm {title!r} to be managed by openbox")
        window = Window(id=found[-1], title=title, wm_class=wm_class, process=process)
        self._windows.append(window)
        self.settle()
        return window

    def spawn_popup(
        self,
        geometry: str,
        *,
        color: str = "ff0000",
        wm_class: str | None = None,
        owner: Window | None = None,
        with_pid: bool = False,
    ) -> Window:
        """Map a real override-redirect window (a popup: openbox does not manage it) and wait
        until it is painted. `owner` goes in WM_TRANSIENT_FOR, as toolkits do for menus."""
        command = [sys.executable, str(Path(__file__).with_name("popup_client.py"))]
        command += ["--geometry", geometry, "--color", color]
        if wm_class is not None:
            command += ["--wm-class", wm_class]
        if owner is not None:
            command += ["--owner", str(owner.id)]
        if with_pid:
            command.append("--pid")
        process = subprocess.Popen(
            command,
            env=self.env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        if not line:
            process.wait()
            raise DesktopError(f"the popup client exited with {process.returncode}")
        window = Window(id=int(line), title="", wm_class=wm_class or "", process=process)
        self._windows.append(window)
        self.settle()
        return window

    def activate(self, window: Window) -> None:
        """Focus and raise the window the way a click would (openbox sets _NET_ACTIVE_WINDOW)."""
        self.run("xdotool", "windowactivate", "--sync", str(window.id))
        _wait(lambda: self.active_window() == window.id, f"{window.title!r} to become active")
        self.settle()

    def raise_(self, window: Window) -> None:
        self.run("xdotool", "windowraise", str(window.id))
        _wait(lambda: self.client_windows()[-1:] == [window.id], f"{window.title!r} on top")
        self.settle()

    def retitle(self, window: Window, title: str) -> None:
        """Change the window's title (WM_NAME and _NET_WM_NAME), as a browser does on navigation."""
        self.run("xdotool", "set_window", "--name", title, str(window.id))
        window.title = title

    def move(self, window: Window, x: int, y: int) -> None:
        self.run("xdotool", "windowmove", "--sync", str(window.id), str(x), str(y))
        self.settle()

    def screensaver(self, active: bool) -> None:
        """Turn the X server's own screensaver on (as a blanking locker does) or off."""
        d = self._connect()
        try:
            d.force_screen_saver(X.ScreenSaverActive if active else X.ScreenSaverReset)
            d.sync()
        finally:
            d.close()

    def minimize(self, window: Window) -> None:
        self.run("xdotool", "windowminimize", "--sync", str(window.id))
        self.settle()

    def close(self, window: Window) -> None:
        """Close one window (its xterm process ends) and wait until openbox forgets it."""
        if window.process.poll() is None:
            window.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                window.process.wait(timeout=10)
            if window.process.poll() is None:
                window.process.kill()
                window.process.wait()
        with contextlib.suppress(ValueError):
            self._windows.remove(window)
        _wait(lambda: window.id not in self.client_windows(), f"{window.title!r} to go away")

    def close_windows(self) -> None:
        for window in list(self._windows):
            self.close(window)
        self.settle()

    # -- pixels -----------------------------------------------------------------------------

    def grab(self) -> Image.Image:
        """The whole screen as the X server holds it now (RGB)."""
        with mss.MSS(display=self.display) as sct:
            shot = sct.grab(sct.monitors[1])
            return Image.frombytes("RGB", shot.size, shot.bgra, "raw", "BGRX")

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until clients have finished painting (two identical screens 50 ms apart)."""
        deadline = time.monotonic() + timeout
        previous = self.grab().tobytes()
        while time.monotonic() < deadline:
            time.sleep(0.05)
            current = self.grab().tobytes()
            if current == previous:
                return
            previous = current
        raise DesktopError(f"the screen kept changing for {timeout:.0f}s")

    # -- lifecycle --------------------------------------------------------------------------

    def stop(self) -> None:
        for window in list(self._windows):
            if window.process.poll() is None:
                window.process.kill()
                window.process.wait()
        self._windows.clear()
        for process in reversed(self._processes):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self._processes.clear()
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)


def _set_root_background(name: str, rgb: int) -> None:
    # A plain mid-blue root makes "black" (redacted) and "white" (xterm) unambiguous everywhere.
    d = display.Display(name)
    try:
        screen = d.screen()
        colour = screen.default_colormap.alloc_color(
            ((rgb >> 16) & 0xFF) * 257, ((rgb >> 8) & 0xFF) * 257, (rgb & 0xFF) * 257
        )
        screen.root.change_attributes(background_pixel=colour.pixel)
        screen.root.clear_area(0, 0, 0, 0)
        # The X screensaver would blank the screen after 10 idle minutes of a long test run.
        d.set_screen_saver(0, 0, X.DontPreferBlanking, X.AllowExposures)
        d.sync()
    finally:
        d.close()


def _wm_ready(name: str) -> bool:
    d = display.Display(name)
    try:
        root = d.screen().root
        check = root.get_full_property(d.intern_atom("_NET_SUPPORTING_WM_CHECK"), X.AnyPropertyType)
        stacking = root.get_full_property(
            d.intern_atom("_NET_CLIENT_LIST_STACKING"), X.AnyPropertyType
        )
        return check is not None and stacking is not None
    finally:
        d.close()


ROOT_RGB = 0x336699


def start_xvfb(
    width: int, height: int, log_path: Path, *options: str
) -> tuple[subprocess.Popen[bytes], str]:
    """Start Xvfb on a display number the server picks (-displayfd); returns it and ":N".

    `options` are more Xvfb flags (e.g. "-extension", "MIT-SHM" to run without it).
    """
    read_fd, write_fd = os.pipe()
    screen = ("-screen", "0", f"{width}x{height}x24")
    with log_path.open("wb") as log:
        xvfb = subprocess.Popen(
            [
                "Xvfb",
                "-displayfd",
                str(write_fd),
                *screen,
                "-nolisten",
                "tcp",
                "-noreset",
                *options,
            ],
            pass_fds=(write_fd,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        number = pipe.readline().strip()
    if not number:
        xvfb.kill()
        xvfb.wait()
        raise DesktopError(f"Xvfb did not start: {log_path.read_text(errors='replace')}")
    return xvfb, f":{number.decode()}"


def start_desktop(width: int = 1920, height: int = 1080) -> Desktop:
    """Start Xvfb on a free display (the server picks it) with openbox managing windows."""
    workdir = Path(tempfile.mkdtemp(prefix="jarvis-x-"))
    try:
        xvfb, name = start_xvfb(width, height, workdir / "xvfb.log")
    except DesktopError:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    desktop = Desktop(display=name, width=width, height=height)
    desktop._workdir = workdir
    desktop._processes.append(xvfb)
    try:
        _set_root_background(desktop.display, ROOT_RGB)
        openbox = subprocess.Popen(
            ["openbox", "--sm-disable"],
            env={**desktop.env, "HOME": str(workdir)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=(workdir / "openbox.log").open("wb"),
        )
        desktop._processes.append(openbox)
        _wait(lambda: _wm_ready(desktop.display), "openbox to manage the display")
    except BaseException:
        desktop.stop()
        raise
    return desktop


@dataclass
class TrayHost:
    """trayer running on the test desktop, owning the _NET_SYSTEM_TRAY_S0 selection."""

    process: subprocess.Popen[bytes]
    display: str


def start_tray_host(desktop: Desktop) -> TrayHost:
    process = subprocess.Popen(
        [
            "trayer",
            "--edge",
            "top",
            "--align",
            "right",
            "--widthtype",
            "pixel",
            "--width",
            "200",
            "--height",
            "32",
        ],
        env=desktop.env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def owns_selection() -> bool:
        if process.poll() is not None:
            raise DesktopError(f"trayer exited with {process.returncode}")
        d = display.Display(desktop.display)
        try:
            owner = d.get_selection_owner(d.intern_atom("_NET_SYSTEM_TRAY_S0"))
            return bool(owner) and owner != X.NONE
        finally:
            d.close()

    try:
        _wait(owns_selection, "trayer to own the system tray selection")
    except BaseException:
        process.kill()
        process.wait()
        raise
    return TrayHost(process=process, display=desktop.display)


def stop_tray_host(host: TrayHost) -> None:
    if host.process.poll() is None:
        host.process.terminate()
        try:
            host.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            host.process.kill()
            host.process.wait()


@contextlib.contextmanager
def private_desktop() -> Iterator[Desktop]:
    """A desktop of the caller's own (Xvfb + openbox), DISPLAY pointing at it meanwhile: for a
    module whose pixels must not meet windows that other modules left on the session's."""
    desktop = start_desktop()
    saved = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = desktop.display
    try:
        yield desktop
    finally:
        desktop.stop()
        if saved is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = saved


@pytest.fixture(scope="session")
def x_desktop() -> Iterator[Desktop]:
    """A real X server (Xvfb 1920x1080) with openbox for the session; DISPLAY points at it."""
    desktop = start_desktop()
    saved = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = desktop.display
    # Nothing may talk to a Wayland compositor the developer happens to run.
    saved_wayland = os.environ.pop("WAYLAND_DISPLAY", None)
    try:
        yield desktop
    finally:
        desktop.stop()
        if saved is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = saved
        if saved_wayland is not None:
            os.environ["WAYLAND_DISPLAY"] = saved_wayland


@pytest.fixture
def x_windows(x_desktop: Desktop) -> Iterator[Desktop]:
    """The session desktop; every window a test opens through it is closed after the test."""
    try:
        yield x_desktop
    finally:
        x_desktop.close_windows()


@pytest.fixture(scope="session")
def tray_host(x_desktop: Desktop) -> Iterator[TrayHost]:
    """trayer on the session desktop (a real XEmbed system tray, as a panel provides)."""
    host = start_tray_host(x_desktop)
    try:
        yield host
    finally:
        stop_tray_host(host)
