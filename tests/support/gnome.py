"""Fixtures: a real headless GNOME Shell (mutter) with Jarvis's Shell extension and the portal.

GNOME Shell refuses root and needs a system bus, so each run gets (TESTBED.md):
- a fresh 0700 XDG_RUNTIME_DIR and HOME owned by uid 4242 (a shell killed within 60 s of start
  leaves gnome-shell-disable-extensions in the runtime dir and loads no extension next time);
- a private system bus (dbus-daemon, allow-all policy, private socket) and a private session bus
  run as uid 4242, so what it activates (dconf, xdg-desktop-portal, the permission store) runs as
  the desktop's user, as on a real desktop; the tests (root) reach both buses by address;
- `gnome-shell --headless --wayland --virtual-monitor 1920x1080` as uid 4242 (with Xwayland), with
  Jarvis's extension installed by `install_extension` and enabled through gsettings before it
  starts (GNOME loads a new extension at start-up on Wayland).

`gnome_session` (session scope) starts one for the whole run; `gnome` (per test) closes every
client after the test. `start_gnome()` is the same without pytest, for benchmarks/.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from jarvis_platform.gnome_setup import EXTENSION_UUID, install_extension
from tests.support.portal import start_portal
from tests.support.processes import start_process, stop_process, stop_processes
from tests.support.wayland import QT_CLIENT, SWAY_UID, Client, _ensure_user, wait_for

GNOME_UID = SWAY_UID
STARTUP_TIMEOUT = 90.0  # seconds; gnome-shell on llvmpipe on a loaded 2-core box is slow

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>{kind}</type>
  <listen>unix:path={path}</listen>
  <auth>EXTERNAL</auth>
  {servicedirs}
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"""


class GnomeError(RuntimeError):
    """The test GNOME Shell could not be started or did not reach the expected state."""


def _as_user(command: list[str]) -> list[str]:
    uid = str(GNOME_UID)
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *command]


@dataclass
class Gnome:
    """A running headless GNOME Shell, its buses, and the real clients shown on it."""

    base: Path
    runtime_dir: Path
    home: Path
    wayland_socket: Path
    session_bus: str
    system_bus: str
    processes: list[subprocess.Popen[bytes]]
    _clients: list[Client] = field(default_factory=list)

    @property
    def shell(self) -> subprocess.Popen[bytes]:
        """The gnome-shell process (started after the two buses)."""
        return self.processes[2]

    @property
    def env(self) -> dict[str, str]:
        """The environment of a program inside this session (the agent, a client)."""
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        env.update(
            WAYLAND_DISPLAY=str(self.wayland_socket),
            DBUS_SESSION_BUS_ADDRESS=self.session_bus,
            DBUS_SYSTEM_BUS_ADDRESS=self.system_bus,
            XDG_SESSION_TYPE="wayland",
            XDG_CURRENT_DESKTOP="GNOME",
        )
        env.pop("SWAYSOCK", None)
        return env

    def user_env(self) -> dict[str, str]:
        """The environment of the desktop's own user (uid 4242) in this session."""
        return {
            **self.env,
            "HOME": str(self.home),
            "XDG_RUNTIME_DIR": str(self.runtime_dir),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_DATA_HOME": str(self.home / ".local/share"),
        }

    def extensions(self, method: str, uuid: str) -> str:
        """Call org.gnome.Shell.Extensions.`method` (EnableExtension, DisableExtension) on
        extension `uuid` in this session's Shell; its reply as gdbus prints it."""
        return self.gdbus(
            "--dest", "org.gnome.Shell", "--object-path", "/org/gnome/Shell",
            "--method", f"org.gnome.Shell.Extensions.{method}", uuid,
        )  # fmt: skip

    def gdbus(self, *args: str, check: bool = True) -> str:
        """Run `gdbus call --session ...` against this session's bus."""
        done = subprocess.run(
            ["gdbus", "call", "--session", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check and done.returncode != 0:
            raise GnomeError(f"gdbus call {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout.strip()

    def snapshot(self) -> dict[str, Any]:
        """What the Jarvis extension reports (raises GnomeError when it does not answer)."""
        out = self.gdbus(
            "--dest",
            "local.jarvis.Shell",
            "--object-path",
            "/local/jarvis/Shell",
            "--method",
            "local.jarvis.Shell1.GetWindows",
        )
        # gdbus prints ('...',): the JSON inside a GVariant string literal.
        return dict(json.loads(_gvariant_string(out)))

    def window(self, title: str) -> dict[str, Any]:
        return wait_for(
            lambda: next(
                (w for w in self.snapshot()["windows"] if w["title"] == title and w["shown"]),
                None,
            ),
            f"a window titled {title!r}",
            STARTUP_TIMEOUT,
        )

    def focused(self, title: str) -> dict[str, Any]:
        """Wait until the window titled `title` has the focus (a new window gets it a moment
        after it is shown)."""
        return wait_for(
            lambda: next(
                (w for w in self.snapshot()["windows"] if w["title"] == title and w["focused"]),
                None,
            ),
            f"{title!r} to have the focus",
            STARTUP_TIMEOUT,
        )

    def gsettings(self, *args: str) -> str:
        done = subprocess.run(
            _as_user(["gsettings", *args]),
            env=self.user_env(),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return done.stdout.strip()

    def grant_screencast(
        self, token_file: Path, *, allowed: bool = True, monitors: list[str] | None = None
    ) -> str:
        """Store what GNOME's screen-sharing dialog stores when the user shares every monitor
        with "remember" ticked (the portal's PermissionStore entry for a fresh restore token, with
        the GNOME backend's restore data naming the monitors), and keep the token where Jarvis
        reads it. `allowed=False` stores a revoked entry instead; `monitors` names others than
        mutter's own (a monitor since unplugged)."""
        token = str(uuid.uuid4())
        store = ["--dest", "org.freedesktop.impl.portal.PermissionStore"]
        store += ["--object-path", "/org/freedesktop/impl/portal/PermissionStore", "--method"]
        method = "org.freedesktop.impl.portal.PermissionStore."
        answer = "['yes']" if allowed else "['no']"
        self.gdbus(*store, method + "SetPermission", "screencast", "true", token, "", answer)
        monitors = ", ".join(
            f"(uint32 {n}, uint32 1, <'{match}'>)"
            for n, match in enumerate(monitors or self.monitor_names())
        )
        data = f"<('GNOME', uint32 1, <(int64 0, int64 0, [{monitors}])>)>"
        self.gdbus(*store, method + "SetValue", "screencast", "true", token, data)
        token_file.parent.mkdir(parents=True, exist_ok=True)
        token_file.write_text(token + "\n")
        token_file.chmod(0o600)
        return token

    def monitor_names(self) -> list[str]:
        """mutter's monitors as GNOME's portal names them (vendor:product:serial)."""
        out = self.gdbus(
            "--dest",
            "org.gnome.Mutter.DisplayConfig",
            "--object-path",
            "/org/gnome/Mutter/DisplayConfig",
            "--method",
            "org.gnome.Mutter.DisplayConfig.GetCurrentState",
        )
        return [
            ":".join(m) for m in re.findall(r"\(\('[^']*', '([^']*)', '([^']*)', '([^']*)'\)", out)
        ]

    def configure_monitors(
        self, scale: float, *, transform: int = 0, more: tuple[tuple[int, int, float], ...] = ()
    ) -> None:
        """Give the first monitor this scale (and rotation: 1 is 90 degrees) and the next ones
        the (x, y, scale) in `more`, as GNOME Settings does, through mutter's DisplayConfig, and
        wait until the Shell reports it."""
        from jarvis_platform.gnome_dbus import DISPLAY_CONFIG, Bus

        bus = Bus(self.session_bus)
        try:
            serial, monitors, _logical, _props = bus.call(DISPLAY_CONFIG, "GetCurrentState")
            places = [(0, 0, scale), *more]
            config = []
            for index, ((connector, *_), modes, _) in enumerate(monitors[: len(places)]):
                mode = next(m[0] for m in modes if m[6].get("is-current", ("b", False))[1])
                x, y, each = places[index]
                turn = transform if index == 0 else 0
                config.append((x, y, float(each), turn, index == 0, [(connector, mode, {})]))
            bus.call(
                DISPLAY_CONFIG,
                "ApplyMonitorsConfig",
                "uua(iiduba(ssa{sv}))a{sv}",
                (serial, 1, config, {}),  # 1: temporary, as a test leaves it
            )
        finally:
            bus.close()
        wanted = sorted(float(place[2]) for place in places)
        wait_for(
            lambda: sorted(m[4] for m in self.snapshot()["monitors"]) == wanted,
            f"GNOME to scale its monitors by {wanted}",
            STARTUP_TIMEOUT,
        )

    # -- clients ------------------------------------------------------------------------------

    def _spawn(self, command: list[str], app_id: str, title: str, **env: str) -> Client:
        runtime = self.base / "client-runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        process = subprocess.Popen(
            command,
            env={**self.env, "XDG_RUNTIME_DIR": str(runtime), **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = Client(app_id, title, process)
        self._clients.append(client)
        self.window(title)
        time.sleep(0.3)  # let the shell draw the new window once (its map animation ends)
        return client

    def spawn_foot(self, app_id: str, title: str, *, background: str = "ff0000") -> Client:
        """A foot terminal with this app_id and title, its whole surface one colour."""
        colours = [f"colors.background={background}", f"colors.foreground={background}"]
        command = ["foot", "--app-id", app_id, "--title", title]
        for override in [*colours, f"cursor.color={background} {background}", "locked-title=no"]:
            command += ["--override", override]
        return self._spawn([*command, "sleep", "3600"], app_id, title)

    def spawn_qt(
        self,
        app_id: str,
        title: str,
        *,
        color: str = "ff0000",
        size: tuple[int, int] = (400, 300),
        popup: tuple[int, int, int, int] | None = None,
    ) -> Client:
        """A small Qt window filled with `color`, optionally with a same-coloured popup."""
        command = [sys.executable, str(QT_CLIENT), "--app-id", app_id, "--title", title]
        command += ["--color", color, "--size", f"{size[0]}x{size[1]}"]
        if popup is not None:
            command += ["--popup", ",".join(str(v) for v in popup)]
        return self._spawn(command, app_id, title, QT_QPA_PLATFORM="wayland")

    def xwayland(self) -> tuple[str, str]:
        """DISPLAY and XAUTHORITY of the Xwayland this shell started (mutter's own auth file)."""

        def find() -> tuple[str, str] | None:
            for proc in Path("/proc").iterdir():
                with contextlib.suppress(OSError):
                    args = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
                    if args[0].endswith("Xwayland") and "-auth" in args:
                        auth = args[args.index("-auth") + 1]
                        if auth.startswith(str(self.runtime_dir)):
                            return args[1], auth
            return None

        return tuple(wait_for(find, "GNOME's Xwayland", STARTUP_TIMEOUT))  # type: ignore[return-value]

    def spawn_xterm(
        self, wm_class: str, title: str, *, background: str = "red", geometry: str | None = None
    ) -> Client:
        """An X11 xterm through GNOME's Xwayland with this WM_CLASS class and title, one colour;
        `geometry` (xterm's COLSxROWS+X+Y) places it where the user asked, as mutter honours."""
        display, auth = self.xwayland()
        command = ["xterm", "-T", title, "-class", wm_class, "+sb"]
        if geometry is not None:
            command += ["-geometry", geometry]
        for option in ("-bg", "-fg", "-cr"):
            command += [option, background]
        return self._spawn(
            [*command, "-e", "sleep", "3600"], wm_class, title, DISPLAY=display, XAUTHORITY=auth
        )

    def move_xterm(self, title: str, x: int, y: int) -> dict[str, Any]:
        """Move an Xwayland window as its program would, and wait until the Shell has it there.

        mutter keeps a framed window that its program moves on a single monitor, so the window
        loses its frame first (Motif hints, as an undecorated X11 program sets them): then it
        may straddle two monitors, as such a window may on a desktop."""
        display, auth = self.xwayland()
        env = {**self.env, "DISPLAY": display, "XAUTHORITY": auth}
        search = ["xdotool", "search", "--name", f"^{re.escape(title)}$"]
        found = subprocess.run(search, env=env, capture_output=True, text=True, timeout=60)
        [window] = found.stdout.split()
        no_frame = ["-f", "_MOTIF_WM_HINTS", "32c", "-set", "_MOTIF_WM_HINTS", "2, 0, 0, 0, 0"]
        subprocess.run(["xprop", "-id", window, *no_frame], env=env, check=True, timeout=60)

        def there() -> dict[str, Any] | None:
            subprocess.run(
                ["xdotool", "windowmove", window, str(x), str(y)], env=env, check=True, timeout=60
            )
            time.sleep(0.5)
            return next(
                (
                    w
                    for w in self.snapshot()["windows"]
                    if w["title"] == title and w["rect"][:2] == [x, y]
                ),
                None,
            )

        return wait_for(there, f"{title!r} to move to {x}, {y}", STARTUP_TIMEOUT)

    def activate_xterm(self, title: str) -> dict[str, Any]:
        """Give an Xwayland window the focus as a pager or taskbar asks for it
        (_NET_ACTIVE_WINDOW, which GNOME honours and which raises the window), and wait until the
        Shell reports it focused."""
        display, auth = self.xwayland()
        env = {**self.env, "DISPLAY": display, "XAUTHORITY": auth}
        search = ["xdotool", "search", "--name", f"^{re.escape(title)}$"]
        found = subprocess.run(search, env=env, capture_output=True, text=True, timeout=60)
        [window] = found.stdout.split()
        subprocess.run(["xdotool", "windowactivate", window], env=env, check=True, timeout=60)
        return self.focused(title)

    def close(self, client: Client) -> None:
        stop_process(client.process, timeout=10)
        with contextlib.suppress(ValueError):
            self._clients.remove(client)
        wait_for(
            lambda: not any(w["title"] == client.title for w in self.snapshot()["windows"]),
            f"{client.title!r} to close",
        )

    def close_clients(self) -> None:
        for client in list(self._clients):
            self.close(client)

    def stop(self) -> None:
        stop_processes((client.process for client in self._clients), sig=signal.SIGKILL)
        stop_processes(self.processes)
        # What the buses activated (portal backends, dconf, the permission store) is not our
        # child: end the processes whose environment names this run's own directory.
        marker = str(self.base).encode()
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit() and int(proc.name) != os.getpid():
                with contextlib.suppress(OSError):
                    if marker in (proc / "environ").read_bytes():
                        os.kill(int(proc.name), signal.SIGKILL)
        shutil.rmtree(self.base, ignore_errors=True)


def _gvariant_string(text: str) -> str:
    """The string inside gdbus's `('...',)` output."""
    inner = text.strip()
    if not (inner.startswith("('") and inner.endswith("',)")):
        raise GnomeError(f"unexpected gdbus output: {text[:200]}")
    body = inner[2:-3]
    return body.encode().decode("unicode_escape").encode("latin-1").decode("utf-8")


def _bus(base: Path, kind: str, uid: int | None) -> tuple[str, subprocess.Popen[bytes]]:
    # The session bus runs as the desktop's user: its socket lives in that user's runtime dir.
    path = (base / "runtime" if uid is not None else base) / f"{kind}_bus_socket"
    config = base / f"{kind}-bus.conf"
    servicedirs = "<standard_session_servicedirs/>" if kind == "session" else ""
    config.write_text(_BUS_CONFIG.format(kind=kind, path=path, servicedirs=servicedirs))
    process = start_process(
        ["dbus-daemon", "--nofork", "--nopidfile", f"--config-file={config}"],
        uid=uid,
        env=None if uid is None else _user_env_for(base),
        stderr=(base / f"{kind}-bus.log").open("wb"),
    )
    wait_for(lambda: path.exists(), f"the {kind} bus socket", STARTUP_TIMEOUT)
    return f"unix:path={path}", process


def _user_env_for(base: Path) -> dict[str, str]:
    runtime, home = base / "runtime", base / "home"
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "USER": "jarvistest",
        "XDG_RUNTIME_DIR": str(runtime),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "XDG_CURRENT_DESKTOP": "GNOME",
        "XDG_SESSION_TYPE": "wayland",
        "GSETTINGS_BACKEND": "dconf",
    }


def start_gnome(
    *, extension: bool = True, logical_layout: bool = False, monitors: int = 1
) -> Gnome:
    """Start headless GNOME Shell as uid 4242, with Jarvis's extension enabled when asked.

    `logical_layout` turns on mutter's 'scale-monitor-framebuffer' (what GNOME Settings' "Fractional
    Scaling" switch does): the stage is then in logical pixels and fractional scales are offered.
    `monitors` 1920x1080 virtual monitors are made (placed side by side until configured).
    """
    if shutil.which("gnome-shell") is None:
        raise GnomeError("gnome-shell is not installed: run scripts/bootstrap.sh")
    _ensure_user()
    base = Path(tempfile.mkdtemp(prefix="jarvis-gnome-"))
    base.chmod(0o755)
    runtime, home = base / "runtime", base / "home"
    for path in (runtime, home, home / ".config", home / ".local/share"):
        path.mkdir(mode=0o700, parents=True)
        os.chown(path, GNOME_UID, GNOME_UID)
    os.chown(home / ".local", GNOME_UID, GNOME_UID)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        system_bus, process = _bus(base, "system", None)
        processes.append(process)
        session_bus, process = _bus(base, "session", GNOME_UID)
        processes.append(process)
        env = {
            **_user_env_for(base),
            "DBUS_SESSION_BUS_ADDRESS": session_bus,
            "DBUS_SYSTEM_BUS_ADDRESS": system_bus,
        }
        if logical_layout:
            subprocess.run(
                _as_user(
                    [
                        "gsettings",
                        "set",
                        "org.gnome.mutter",
                        "experimental-features",
                        "['scale-monitor-framebuffer']",
                    ]
                ),
                env=env,
                check=True,
                timeout=60,
            )
        if extension:
            install_extension(home / ".local/share/gnome-shell/extensions")
            for path in (home / ".local/share").rglob("*"):
                os.chown(path, GNOME_UID, GNOME_UID)
            subprocess.run(
                _as_user(
                    [
                        "gsettings",
                        "set",
                        "org.gnome.shell",
                        "enabled-extensions",
                        f"['{EXTENSION_UUID}']",
                    ]
                ),
                env=env,
                check=True,
                timeout=60,
            )
        log = (base / "gnome-shell.log").open("wb")
        process = start_process(
            [
                "gnome-shell",
                "--headless",
                "--wayland",
                *["--virtual-monitor", "1920x1080"] * monitors,
                "--wayland-display",
                "wayland-jarvis",
            ],
            uid=GNOME_UID,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        processes.append(process)
        gnome = Gnome(
            base, runtime, home, runtime / "wayland-jarvis", session_bus, system_bus, processes
        )

        def ready() -> bool:
            if process.poll() is not None:
                text = (base / "gnome-shell.log").read_text(errors="replace")[-3000:]
                raise GnomeError(f"gnome-shell exited with {process.returncode}: {text}")
            return gnome.wayland_socket.exists()

        wait_for(ready, "gnome-shell's Wayland socket", STARTUP_TIMEOUT)
        # gnome-session would tell the bus this; the portal backends need it to reach the shell.
        gnome.gdbus(
            "--dest",
            "org.freedesktop.DBus",
            "--object-path",
            "/org/freedesktop/DBus",
            "--method",
            "org.freedesktop.DBus.UpdateActivationEnvironment",
            f"{{'WAYLAND_DISPLAY': '{gnome.wayland_socket}', 'XDG_CURRENT_DESKTOP': 'GNOME'}}",
        )
        processes.extend(_start_pipewire(gnome, env))
        processes.append(_start_portal(gnome))
        if extension:
            wait_for(_answers(gnome), "the Jarvis extension on the bus", STARTUP_TIMEOUT)

            # It starts in the overview (no windows drawn where they are): leave it, again
            # until it stays left (the start-up animation opens it once more).
            def left() -> bool:
                gnome.gdbus(
                    "--dest",
                    "org.gnome.Shell",
                    "--object-path",
                    "/org/gnome/Shell",
                    "--method",
                    "org.freedesktop.DBus.Properties.Set",
                    "org.gnome.Shell",
                    "OverviewActive",
                    "<false>",
                )
                time.sleep(0.5)
                return not gnome.snapshot()["overview"]

            wait_for(left, "the overview to close", STARTUP_TIMEOUT)
    except BaseException:
        stop_processes(processes, sig=signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)
        raise
    return gnome


def _start_pipewire(gnome: Gnome, env: dict[str, str]) -> list[subprocess.Popen[bytes]]:
    """pipewire and its session manager as the desktop's user (systemd's socket activation
    starts them on a desktop): mutter's screen casts are pipewire streams."""
    started: list[subprocess.Popen[bytes]] = []
    for name in ("pipewire", "wireplumber"):
        started.append(
            start_process(
                [name], uid=GNOME_UID, env=env, stderr=(gnome.base / f"{name}.log").open("wb")
            )
        )
        if name == "pipewire":
            socket = gnome.runtime_dir / "pipewire-0"
            wait_for(socket.exists, "pipewire's socket", STARTUP_TIMEOUT)
    return started


def _start_portal(gnome: Gnome) -> subprocess.Popen[bytes]:
    """xdg-desktop-portal on the session bus, run as the tests' own uid (root; see portal.py).
    Its backends (xdg-desktop-portal-gnome, the permission store) are activated by the bus as
    the desktop's user, as on a desktop."""
    return start_portal(
        gnome.session_bus,
        gnome.base / "portal-runtime",
        "GNOME",
        gnome.base / "portal.log",
        STARTUP_TIMEOUT,
        WAYLAND_DISPLAY=str(gnome.wayland_socket),
        PIPEWIRE_RUNTIME_DIR=str(gnome.runtime_dir),  # the desktop user's pipewire
    )


def _answers(gnome: Gnome) -> Any:
    def check() -> bool:
        try:
            gnome.snapshot()
        except GnomeError:
            return False
        return True

    return check


@pytest.fixture(scope="session")
def gnome_session() -> Iterator[Gnome]:
    gnome = start_gnome()
    try:
        yield gnome
    finally:
        gnome.stop()


@pytest.fixture
def gnome(gnome_session: Gnome) -> Iterator[Gnome]:
    try:
        yield gnome_session
    finally:
        gnome_session.close_clients()
