"""The PyInstaller bundles, built as scripts/build-bundles.sh builds them, run as a user runs them.

The build takes about a minute per bundle here, so it happens once for this module.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
VERSION = (ROOT / "VERSION").read_text(encoding="utf-8").strip()

pytestmark = [pytest.mark.slow, pytest.mark.bundle, pytest.mark.timeout(1500)]


@dataclass(frozen=True)
class Bundles:
    dist: Path

    @property
    def jarvis(self) -> Path:
        return self.dist / "jarvis" / "jarvis"

    @property
    def server(self) -> Path:
        return self.dist / "jarvis-server" / "jarvis-server"

    @property
    def archive(self) -> Path:
        (found,) = self.dist.glob(f"jarvis-{VERSION}-linux-*.tar.gz")
        return found


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Bundles:
    """Both bundles and the Linux archive, built into a private directory."""
    out = tmp_path_factory.mktemp("bundles")
    dist, work = out / "dist", out / "work"
    log = out / "build.log"
    with log.open("w") as fh:
        result = subprocess.run(
            [
                "bash",
                str(ROOT / "scripts" / "build-bundles.sh"),
                "--no-sync",
                "--dist",
                str(dist),
                "--work",
                str(work),
            ],
            stdout=fh,
            stderr=subprocess.STDOUT,
            timeout=1200,
        )
    if result.returncode != 0:
        pytest.fail("bundle build failed:\n" + "\n".join(log.read_text().splitlines()[-40:]))
    return Bundles(dist)


def _clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JARVIS_", "XDG_", "VIRTUAL_ENV", "PYTHON", "QT_"))
    }
    env |= extra
    return env


def test_both_bundles_print_the_project_version(bundles: Bundles, tmp_path: Path) -> None:
    """`jarvis --version` and `jarvis-server --version` of the bundles print VERSION, outside
    any Python environment."""
    env = _clean_env(HOME=str(tmp_path), PATH="/usr/bin:/bin")
    for program, name in ((bundles.jarvis, "jarvis"), (bundles.server, "jarvis-server")):
        out = subprocess.run(
            [program, "--version"], env=env, capture_output=True, text=True, timeout=120, check=True
        )
        assert out.stdout.strip() == f"{name} {VERSION}"


def test_bundle_carries_the_platform_plugins(bundles: Bundles) -> None:
    """The jarvis bundle ships Qt's xcb platform plugin and the tray app's package metadata."""
    internal = bundles.jarvis.parent / "_internal"
    assert list(internal.glob("PySide6/Qt/plugins/platforms/libqxcb.so"))
    ui_meta = list(internal.glob("jarvis_ui-*.dist-info/entry_points.txt"))
    assert ui_meta, "jarvis-ui's entry points must ship so `jarvis` finds the tray commands"
    assert "jarvis.commands" in ui_meta[0].read_text()
    assert not list(internal.glob("hypothesis*")), "test tools must not ship"


def test_bundle_enables_autostart_of_itself(bundles: Bundles, tmp_path: Path) -> None:
    """`jarvis autostart enable` run from the bundle makes the login entry start the bundle."""
    env = _clean_env(HOME=str(tmp_path), PATH="/usr/bin:/bin")
    subprocess.run(
        [bundles.jarvis, "autostart", "enable"],
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
    )
    entry = (tmp_path / ".config" / "autostart" / "jarvis.desktop").read_text()
    assert f"Exec={bundles.jarvis}" in entry.splitlines()


def test_bundle_installs_the_gnome_shell_extension(bundles: Bundles, tmp_path: Path) -> None:
    """`jarvis setup gnome` run from the bundle writes the GNOME Shell extension it ships (the
    same files a source install writes for this machine's GNOME Shell) before it turns to the
    desktop, which is absent here."""
    from jarvis_platform.gnome_setup import extension_files

    env = _clean_env(HOME=str(tmp_path), PATH="/usr/bin:/bin", DBUS_SESSION_BUS_ADDRESS="")
    done = subprocess.run(
        [bundles.jarvis, "setup", "gnome"],
        env=env,
        timeout=120,
        capture_output=True,
        text=True,
        check=False,
    )
    installed = tmp_path / ".local/share/gnome-shell/extensions/jarvis@jarvis.local"
    assert installed.is_dir(), done.stdout + done.stderr
    assert {p.name: p.read_text() for p in installed.iterdir()} == extension_files()
    assert "Traceback" not in done.stderr


def test_archive_installs_and_uninstalls(bundles: Bundles, tmp_path: Path) -> None:
    """The release archive's install.sh puts a working `jarvis` in ~/.local/bin; its
    uninstall.sh removes everything again."""
    with tarfile.open(bundles.archive) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    (unpacked,) = (tmp_path / "unpacked").iterdir()
    home = tmp_path / "home"
    home.mkdir()
    env = _clean_env(HOME=str(home), PATH="/usr/bin:/bin")
    subprocess.run(
        ["bash", str(unpacked / "install.sh"), "--autostart"],
        env=env,
        check=True,
        timeout=300,
        capture_output=True,
    )
    out = subprocess.run(
        [home / ".local" / "bin" / "jarvis", "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == f"jarvis {VERSION}"
    status = subprocess.run(
        [home / ".local" / "bin" / "jarvis", "autostart", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert status.stdout.startswith("enabled")
    subprocess.run(
        [home / ".local" / "lib" / "jarvis" / "uninstall.sh"],
        env=env,
        check=True,
        timeout=120,
        capture_output=True,
    )
    assert list(home.iterdir()) == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, token: str | None = None) -> Any:
    request = urllib.request.Request(url)  # noqa: S310 (a loopback URL this test built)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


@dataclass
class RunningServer:
    url: str
    device_token: str
    admin_token: str
    process: subprocess.Popen[str]


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def bundled_server(bundles: Bundles, tmp_path: Path) -> Iterator[RunningServer]:
    """The bundled server on SQLite: migrated, two tokens created, serving on a free port."""
    env = _clean_env(HOME=str(tmp_path), JARVIS_HOME=str(tmp_path / "server-home"))
    server = str(bundles.server)

    def cli(*args: str) -> str:
        done = subprocess.run([server, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"jarvis-server {' '.join(args)}: {done.stderr}"
        return done.stdout.strip()

    cli("migrate")
    device_token = cli("token", "create", "--device", "bundle-desktop")
    admin_token = cli("token", "create", "--device", "bundle-admin", "--admin")
    port = _free_port()
    process = subprocess.Popen(
        [server, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-migrate"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"{url}/health/db")
                break
            except (urllib.error.URLError, ConnectionError):
                if process.poll() is not None:
                    pytest.fail(f"the bundled server exited: {process.stderr.read()}")  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "the bundled server did not answer in 60 s"
                time.sleep(0.3)
        yield RunningServer(url, device_token, admin_token, process)
    finally:
        _stop(process)


def test_bundled_server_migrates_and_serves(bundled_server: RunningServer) -> None:
    """The server bundle applies its migrations (shipped as files for Alembic), creates tokens
    and answers the health checks with the project version."""
    health = _get(f"{bundled_server.url}/health/db")
    assert health == {"status": "ok", "version": VERSION}
    page = _get(f"{bundled_server.url}/api/v1/captures", bundled_server.admin_token)
    assert page["items"] == []


@pytest.mark.x11
@pytest.mark.keyring
def test_headless_capture_cycle_reaches_the_bundled_server(
    bundles: Bundles,
    bundled_server: RunningServer,
    x_desktop: Any,
    secret_service: Any,
    tmp_path: Path,
) -> None:
    """The bundled agent, logged in with a device token read from stdin, runs headless under
    Xvfb and its screenshots arrive at the bundled server as 1920x1080 images of that device."""
    env = _clean_env(
        HOME=str(tmp_path),
        DISPLAY=x_desktop.display,
        JARVIS_HOME=str(tmp_path / "agent-home"),
        JARVIS_CAPTURE__INTERVAL_SECONDS="2",
        **secret_service.environ,
    )
    jarvis = str(bundles.jarvis)
    login = subprocess.run(
        [jarvis, "login", "--server", bundled_server.url],
        input=bundled_server.device_token + "\n",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert login.returncode == 0, login.stderr
    agent = subprocess.Popen(
        [jarvis, "run", "--headless"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        items: list[dict[str, Any]] = []
        step = 0
        while not items:
            step += 1
            if agent.poll() is not None:
                pytest.fail(f"the bundled agent exited: {agent.stderr.read()}")  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "no capture reached the server in 120 s"
            # A user at the desktop: input keeps the agent from pausing for idleness.
            x_desktop.run("xdotool", "mousemove", str(100 + step % 50), "100")
            time.sleep(1)
            page = _get(f"{bundled_server.url}/api/v1/captures", bundled_server.admin_token)
            items = page["items"]
        first = items[0]
        assert first["device"] == "bundle-desktop"
        assert (first["width"], first["height"]) == (1920, 1080)
        assert first["mime_type"].startswith("image/")
    finally:
        _stop(agent)
    assert agent.returncode == 0, "the agent must stop cleanly on SIGTERM"


@pytest.mark.x11
@pytest.mark.keyring
def test_bundled_tray_app_starts_on_a_desktop_with_a_tray(
    bundles: Bundles,
    x_desktop: Any,
    tray_host: Any,
    secret_service: Any,
    tmp_path: Path,
) -> None:
    """`jarvis` with no arguments, from the bundle, starts the tray app: the bundled Qt loads its
    xcb plugin and the app's windows appear on the desktop; SIGTERM ends it."""
    del tray_host  # only needs to be running
    env = _clean_env(
        HOME=str(tmp_path),
        DISPLAY=x_desktop.display,
        JARVIS_HOME=str(tmp_path / "agent-home"),
        **secret_service.environ,
    )
    app = subprocess.Popen(
        [str(bundles.jarvis)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        windows: list[str] = []
        while not windows:
            if app.poll() is not None:
                pytest.fail(f"the bundled tray app exited: {app.stderr.read()}")  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the bundled tray app showed no window in 60 s"
            time.sleep(0.5)
            found = subprocess.run(
                ["xdotool", "search", "--pid", str(app.pid)],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
            )
            windows = found.stdout.split()
    finally:
        _stop(app)
    errors = app.stderr.read() if app.stderr else ""
    assert "Could not load the Qt platform plugin" not in errors
