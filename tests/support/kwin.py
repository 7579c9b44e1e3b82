"""Fixtures: a real headless KWin (KDE Plasma 5.27, Wayland) with real Wayland and Xwayland clients.

/usr/bin/kwin_wayland carries a file capability (cap_sys_resource) this VM cannot grant, so the
tests run a plain copy of it; the copy must still be named `kwin_wayland` (KWin's own Qt platform
plugin refuses to load in a program of another name). KWin runs as root (it allows that) with its
own 0700 XDG_RUNTIME_DIR, HOME and D-Bus session bus, the virtual backend and OpenGL compositing
on llvmpipe (ScreenShot2 needs OpenGL). Its screen locker is left on: it serves
org.freedesktop.ScreenSaver, which the platform asks.

`kwin_session` (session) starts one KWin for the whole test session; `kwin` (per test) closes
every client after the test and restores the ScreenShot2 authorization. Layouts at other scales
(or with two outputs) need a KWin of their own: `start_kwin(scale=..., outputs=...)` from a
module-scoped fixture, and `authorized(kwin)` around each test.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from jarvis_platform.kwin import KWinPlatform
from jarvis_platform.kwin_bus import KWinBus
from jarvis_platform.kwin_shot import KWinFrames, authorization_file, authorize
from tests.support.wayland import QT_CLIENT, Client, wait_for

KWIN = "/usr/bin/kwin_wayland"


class KWinError(RuntimeError):
    """The test KWin could not be started or did not reach the expected state."""


@dataclass
class KWin:
    """A running headless KWin; spawn real clients into it and focus them by title."""

    base: Path
    runtime_dir: Path
    home: Path
    wayland_socket: Path
    bus_address: str
    process: subprocess.Popen[bytes]
    bus_process: subprocess.Popen[bytes]
    _clients: list[Client] = field(default_factory=list)

    @property
    def data_home(self) -> Path:
        return self.home / ".local" / "share"

    @property
    def env(self) -> dict[str, str]:
        """The environment of a program running inside this Plasma session."""
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        env.update(
            WAYLAND_DISPLAY=str(self.wayland_socket),
            DBUS_SESSION_BUS_ADDRESS=self.bus_address,
            XDG_SESSION_TYPE="wayland",
            XDG_CURRENT_DESKTOP="KDE",
            XDG_DATA_HOME=str(self.data_home),
        )
        env.pop("SWAYSOCK", None)
        return env

    def platform(self) -> KWinPlatform:
        return KWinPlatform(str(self.wayland_socket), bus_address=self.bus_address)

    def frames(self) -> KWinFrames:
        return KWinFrames(self.bus_address, wayland_display=str(self.wayland_socket))

    def run_script(self, text: str) -> None:
        """Load and run a KWin script (to move or focus windows), then unload it."""
        bus = KWinBus(address=self.bus_address)
        try:
            plugin = bus.plugin_name("test")
            bus.load(text, plugin)
            bus.unload(plugin)
        finally:
            bus.close()

    def configure_output(self, name: str, scale: float, x: int, y: int) -> None:
        """Give output `name` its own scale and place, as System Settings does: through KWin's
        kde_output_management_v2 (the virtual backend's --scale applies to every output)."""
        from pywayland.client.display import Display

        from jarvis_platform.kwin_outputs import read_outputs
        from jarvis_platform.protocols.kde_output_device_v2 import KdeOutputDeviceV2
        from jarvis_platform.protocols.kde_output_management_v2 import KdeOutputManagementV2

        display = Display(str(self.wayland_socket))
        display.connect()
        try:
            devices: dict[str, Any] = {}
            managers: list[Any] = []

            def announced(registry: Any, ident: int, interface: str, version: int) -> None:
                if interface == "kde_output_device_v2":
                    device = registry.bind(ident, KdeOutputDeviceV2, min(version, 2))
                    device.dispatcher["name"] = lambda _, found: devices.__setitem__(found, device)
                elif interface == "kde_output_management_v2":
                    managers.append(registry.bind(ident, KdeOutputManagementV2, min(version, 3)))

            registry = display.get_registry()
            registry.dispatcher["global"] = announced
            display.roundtrip()
            display.roundtrip()  # the devices' own events (their names)
            if not managers or name not in devices:
                raise KWinError(f"KWin offers no output management for {name} ({list(devices)})")
            outcome: list[str] = []
            config = managers[0].create_configuration()
            config.dispatcher["applied"] = lambda _: outcome.append("applied")
            config.dispatcher["failed"] = lambda _: outcome.append("failed")
            config.scale(devices[name], scale)
            config.position(devices[name], x, y)
            config.apply()

            def answered() -> bool:
                display.roundtrip()
                return bool(outcome)

            wait_for(answered, f"KWin to configure {name}")
            if outcome != ["applied"]:
                raise KWinError(f"KWin refused to give {name} scale {scale} at {x}, {y}")
        finally:
            display.disconnect()
        wait_for(
            lambda: any(
                o["name"] == name and o["scale"] == scale and o["rect"]["x"] == x
                for o in read_outputs(str(self.wayland_socket))
            ),
            f"{name} at scale {scale}",
        )

    def place(self, title: str, x: int, y: int, width: int, height: int) -> None:
        """Move and resize the window titled `title` (logical coordinates, frame included)."""
        quoted = title.replace("\\", "\\\\").replace('"', '\\"')
        self.run_script(
            "var l = workspace.clientList();"
            f'for (var i = 0; i < l.length; i++) if (l[i].caption == "{quoted}")'
            f" l[i].frameGeometry = {{x: {x}, y: {y}, width: {width}, height: {height}}};"
        )
        wanted = (x, y, width, height)

        def placed() -> bool:
            report = self.platform()
            try:
                windows = report.report()["windows"]
            finally:
                report.close()
            return any(
                w["caption"] == title and (w["x"], w["y"], w["width"], w["height"]) == wanted
                for w in windows
            )

        wait_for(placed, f"{title!r} at {wanted}")
        self.settle()

    def titles(self) -> list[str]:
        platform = self.platform()
        try:
            return [w.title or "" for w in platform.windows() if not w.popup]
        finally:
            platform.close()

    def xwayland(self) -> tuple[str, str]:
        """(DISPLAY, XAUTHORITY) of the Xwayland KWin started, from its command line."""
        for proc in Path("/proc").iterdir():
            with contextlib.suppress(OSError):
                if not proc.name.isdigit() or (proc / "comm").read_text().strip() != "Xwayland":
                    continue
                status = (proc / "status").read_text()
                ppid = next(
                    line.split()[1] for line in status.splitlines() if line.startswith("PPid:")
                )
                if int(ppid) != self.process.pid:
                    continue
                args = (proc / "cmdline").read_bytes().decode().split("\0")
                display = next(a for a in args if a.startswith(":"))
                auth = args[args.index("-auth") + 1] if "-auth" in args else ""
                return display, auth
        raise KWinError("KWin's Xwayland is not running")

    # -- clients ------------------------------------------------------------------------------

    def _spawn(self, command: list[str], app_id: str, title: str, **env: str) -> Client:
        process = subprocess.Popen(
            command,
            env={**self.env, "XDG_RUNTIME_DIR": str(self._client_runtime()), **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = Client(app_id, title, process)
        self._clients.append(client)

        def mapped() -> bool:
            if process.poll() is not None:
                raise KWinError(f"{command[0]} {title!r} exited with {process.returncode}")
            return title in self.titles()

        wait_for(mapped, f"{command[0]} {title!r} to be mapped")
        self.settle()
        return client

    def _client_runtime(self) -> Path:
        path = self.base / "client-runtime"
        path.mkdir(mode=0o700, exist_ok=True)
        return path

    def spawn_qt(
        self,
        app_id: str,
        title: str,
        *,
        color: str = "ff0000",
        size: tuple[int, int] = (400, 300),
        popup: tuple[int, int, int, int] | None = None,
    ) -> Client:
        """A small native Wayland Qt window filled with `color` (optionally with a popup)."""
        command = [sys.executable, str(QT_CLIENT), "--app-id", app_id, "--title", title]
        command += ["--color", color, "--size", f"{size[0]}x{size[1]}"]
        if popup is not None:
            command += ["--popup", ",".join(str(v) for v in popup)]
        return self._spawn(command, app_id, title, QT_QPA_PLATFORM="wayland")

    def spawn_xterm(
        self, wm_class: str, title: str, *, background: str = "red", rename_on: Path | None = None
    ) -> Client:
        """An X11 xterm through Xwayland, one colour; with `rename_on` it retitles itself to
        'renamed' once that file exists."""
        display, auth = self.xwayland()
        script = "sleep 3600"
        if rename_on is not None:
            script = (
                f"while [ ! -e {rename_on} ]; do sleep 0.05; done; "
                "printf '\\033]2;renamed\\007'; sleep 3600"
            )
        command = ["xterm", "-T", title, "-class", wm_class, "-bg", background]
        command += ["-fg", background, "-cr", background, "+sb", "-e", "sh", "-c", script]
        extra = {"XAUTHORITY": auth} if auth else {}
        return self._spawn(command, wm_class, title, DISPLAY=display, **extra)

    def focus(self, title: str) -> None:
        """Activate the window titled `title` (a KWin script sets workspace.activeClient)."""
        quoted = title.replace("\\", "\\\\").replace('"', '\\"')
        self.run_script(
            "var l = workspace.clientList();"
            f'for (var i = 0; i < l.length; i++) if (l[i].caption == "{quoted}")'
            " workspace.activeClient = l[i];"
        )

        def focused() -> bool:
            platform = self.platform()
            try:
                active = platform.active_window()
            finally:
                platform.close()
            return active is not None and active.title == title

        wait_for(focused, f"{title!r} focused")
        self.settle()

    def close(self, client: Client) -> None:
        if client.process.poll() is None:
            client.process.terminate()
            try:
                client.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                client.process.kill()
                client.process.wait()
        with contextlib.suppress(ValueError):
            self._clients.remove(client)
        wait_for(lambda: client.title not in self.titles(), f"{client.title!r} to close")

    def close_clients(self) -> None:
        for client in list(self._clients):
            self.close(client)

    def settle(self) -> None:
        """Give KWin time to draw what it was told (a few frames of the virtual output)."""
        time.sleep(0.3)

    def stop(self) -> None:
        for client in list(self._clients):
            if client.process.poll() is None:
                client.process.kill()
                client.process.wait()
        for process in (self.process, self.bus_process):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        shutil.rmtree(self.base, ignore_errors=True)


def start_kwin(
    *, scale: float = 1.0, size: tuple[int, int] = (1920, 1080), outputs: int = 1
) -> KWin:
    """Start headless KWin (a copy of the binary) on a D-Bus session bus of its own.

    `size` is each output's logical size (its frames are `size` times `scale`); `outputs`
    virtual outputs are laid side by side, all at `scale` (KWin's virtual backend has no
    option for a scale per output)."""
    if shutil.which("kwin_wayland") is None and not Path(KWIN).exists():
        raise KWinError("KWin is not installed: run scripts/bootstrap.sh (kwin-wayland)")
    base = Path(tempfile.mkdtemp(prefix="jarvis-kwin-"))
    runtime, home = base / "runtime", base / "home"
    runtime.mkdir(mode=0o700)
    (home / ".local" / "share" / "applications").mkdir(parents=True)
    binary = base / "bin" / "kwin_wayland"  # the name KWin's Qt platform plugin insists on
    binary.parent.mkdir()
    shutil.copy(KWIN, binary)
    bus_address = f"unix:path={runtime}/bus"
    bus_process = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--nopidfile", f"--address={bus_address}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(lambda: (runtime / "bus").exists(), "the D-Bus session bus")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "XDG_RUNTIME_DIR": str(runtime),
        "DBUS_SESSION_BUS_ADDRESS": bus_address,
        "KWIN_COMPOSE": "O2",  # ScreenShot2 needs OpenGL compositing (llvmpipe here)
        "QT_QPA_PLATFORM": "wayland-org.kde.kwin.qpa",
    }
    log = (base / "kwin.log").open("wb")
    command = [str(binary), "--virtual", "--width", str(size[0]), "--height", str(size[1])]
    command += ["--xwayland", "--socket", "wayland-jarvis", "--scale", str(scale)]
    command += ["--output-count", str(outputs)]
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    kwin = KWin(base, runtime, home, runtime / "wayland-jarvis", bus_address, process, bus_process)

    def ready() -> bool:
        if process.poll() is not None:
            text = (base / "kwin.log").read_text(errors="replace")[-2000:]
            raise KWinError(f"kwin_wayland exited with {process.returncode}: {text}")
        if not kwin.wayland_socket.exists():
            return False
        with contextlib.suppress(Exception):
            kwin.xwayland()
            kwin.titles()
            return True
        return False

    try:
        wait_for(ready, "KWin, its Xwayland and its scripting on the bus")
    except BaseException:
        kwin.stop()
        raise
    return kwin


@pytest.fixture(scope="session")
def kwin_session() -> Iterator[KWin]:
    kwin = start_kwin()
    try:
        yield kwin
    finally:
        kwin.stop()


@contextlib.contextmanager
def authorized(kwin: KWin) -> Iterator[KWin]:
    """One test's use of `kwin`: ScreenShot2 authorized for this interpreter; clients closed and
    the authorization removed afterwards."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_DATA_HOME", str(kwin.data_home))
        authorize()  # the step `jarvis setup kde` takes, for this interpreter
        try:
            yield kwin
        finally:
            kwin.close_clients()
            authorization_file().unlink(missing_ok=True)


@pytest.fixture
def kwin(kwin_session: KWin) -> Iterator[KWin]:
    with authorized(kwin_session) as session:
        yield session
