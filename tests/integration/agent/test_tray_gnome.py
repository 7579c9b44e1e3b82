"""The tray on GNOME: with the AppIndicator extension (Debian's gnome-shell-extension-appindicator,
enabled in the test's real GNOME Shell 43) the real tray app (`jarvis run`) is a StatusNotifierItem
that the Shell itself watches and draws in its top bar, red while capturing, amber once paused;
without it, the tray app shows its status window."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from jarvis_agent.config import ConfigStore
from jarvis_platform.gnome import GnomePlatform
from jarvis_platform.gnome_screencast import screencast_token_file
from tests.integration.agent.conftest import JARVIS, jarvis, wait_for
from tests.support.gnome import Gnome
from tests.support.session_bus import stop
from tests.support.sni import (
    count_near,
    has_watcher,
    item_properties,
    jarvis_item,
    largest_pixmap_rgb,
    registered_items,
)

pytestmark = pytest.mark.gnome

# Debian ships the extension under Ubuntu's uuid (upstream's is appindicatorsupport@rgcjonas...).
APPINDICATOR = "ubuntu-appindicators@ubuntu.com"
CAPTURING_RED = (0xE5, 0x35, 0x2B)
PAUSED_AMBER = (0xF5, 0xA6, 0x23)
TOP_BAR_ROWS = 32  # GNOME 43's panel at scale 1


@pytest.fixture
def appindicator(gnome: Gnome) -> Iterator[Gnome]:
    """The session's Shell with the AppIndicator extension enabled for this test only (the
    Shell found it under /usr/share at start-up, so it is enabled as the Extensions app does,
    without a second Shell); its StatusNotifierWatcher goes with it afterwards."""
    installed = Path("/usr/share/gnome-shell/extensions") / APPINDICATOR
    assert installed.is_dir(), f"{installed} is missing: run scripts/bootstrap.sh"
    assert gnome.extensions("EnableExtension", APPINDICATOR) == "(true,)"
    try:
        wait_for(lambda: has_watcher(gnome.session_bus), "the extension's StatusNotifierWatcher")
        yield gnome
    finally:
        gnome.extensions("DisableExtension", APPINDICATOR)
        wait_for(lambda: not has_watcher(gnome.session_bus), "the watcher to go")


@pytest.fixture
def tray_env(gnome: Gnome, jarvis_home: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The GNOME session's environment (screens shared, so the agent has its frames); secrets
    in a private file (the session bus holds no keyring), no scheduled capture. A runtime dir of
    its own as a desktop gives every program: Qt's GTK theme, loaded on GNOME, opens GTK's
    Wayland display, which GTK refuses without one, and GTK then ends the process."""
    for name, value in gnome.env.items():
        if name != "PATH":
            monkeypatch.setenv(name, value)
    runtime = jarvis_home / "runtime"
    runtime.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("JARVIS_SECRETS_FILE", str(jarvis_home / "secrets.json"))
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    store = ConfigStore()
    store.set_value("capture.interval_seconds", "3600")
    store.set_value("capture.window_change_trigger", "false")
    gnome.grant_screencast(screencast_token_file())
    return dict(os.environ)


def top_bar(gnome: Gnome) -> np.ndarray:
    """GNOME's top bar (RGB) as the screen cast shows it. While a cast runs, GNOME adds its own
    amber screen-sharing indicator to the bar, so colours are counted where Jarvis's icon is."""
    frames = GnomePlatform(gnome.session_bus).frame_source()
    try:
        [monitor] = frames.monitors()
        return np.ascontiguousarray(frames.grab(monitor).pixels[:TOP_BAR_ROWS, :, 2::-1])
    finally:
        frames.close()


def near(image: np.ndarray, rgb: tuple[int, int, int], tol: int = 40) -> np.ndarray:
    """Where `image` is within `tol` of `rgb` (the extension draws icons at 240/255 opacity)."""
    return np.all(np.abs(image.astype(int) - rgb) <= tol, axis=2)


def test_gnome_top_bar_shows_the_tray_icon_and_its_state(
    appindicator: Gnome, tray_env: dict[str, str], tmp_path: Path
) -> None:
    """With GNOME's AppIndicator extension, the Jarvis tray registers its item with the
    extension's StatusNotifierWatcher (Title "Jarvis", the state in its tooltip, a red icon), the
    Shell draws the red icon in its top bar and opens no status window; `jarvis pause` turns the
    item and the icon in the top bar amber, and the icon leaves the bar when the app quits."""
    gnome = appindicator
    assert not near(top_bar(gnome), CAPTURING_RED).any()
    log = (tmp_path / "tray.log").open("wb")
    process = subprocess.Popen([JARVIS, "run"], env=tray_env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        item, props = jarvis_item(gnome.session_bus)
        assert (props["Id"], props["Title"], props["Status"]) == ("Jarvis", "Jarvis", "Active")
        assert props["ToolTip"][2].startswith("Jarvis — Capturing")
        assert count_near(largest_pixmap_rgb(props["IconPixmap"]), CAPTURING_RED) > 20

        def red_icon() -> slice | None:
            xs = np.nonzero(near(top_bar(gnome), CAPTURING_RED))[1]
            return slice(max(int(xs.min()) - 3, 0), int(xs.max()) + 4) if xs.size > 20 else None

        icon = np.s_[:, wait_for(red_icon, "the red icon drawn in the top bar")]  # its columns

        assert jarvis("pause", check=True).stdout == "Paused until resumed.\n"
        wait_for(
            lambda: (
                count_near(
                    largest_pixmap_rgb(item_properties(gnome.session_bus, item)["IconPixmap"]),
                    PAUSED_AMBER,
                )
                > 20
            ),
            "the amber paused icon",
        )
        assert item_properties(gnome.session_bus, item)["ToolTip"][2].startswith("Jarvis — Paused")

        def amber_icon() -> list[np.ndarray]:
            drawn = top_bar(gnome)[icon]
            return [drawn] if near(drawn, PAUSED_AMBER).sum() > 20 else []

        [bar] = wait_for(amber_icon, "the amber icon drawn in the top bar")
        assert not near(bar, CAPTURING_RED).any()
        assert not any(w["title"] == "Jarvis" for w in gnome.snapshot()["windows"])
    finally:
        stop(process)
    wait_for(lambda: not registered_items(gnome.session_bus), "the item to go with the app")
    wait_for(
        lambda: not near(top_bar(gnome)[icon], PAUSED_AMBER).any(), "the icon to leave the bar"
    )


def test_without_the_extension_the_status_window_is_shown(
    gnome: Gnome, tray_env: dict[str, str], tmp_path: Path
) -> None:
    """GNOME without the AppIndicator extension has no StatusNotifierWatcher: the tray app gives
    up waiting for a tray and shows its status window, titled "Jarvis", on GNOME."""
    assert not has_watcher(gnome.session_bus)
    log = (tmp_path / "tray.log").open("wb")
    process = subprocess.Popen([JARVIS, "run"], env=tray_env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        gnome.window("Jarvis")  # waits (the tray app waits 10 s for a tray host first)
        assert registered_items(gnome.session_bus) == []
        assert process.poll() is None
    finally:
        stop(process)
    wait_for(
        lambda: not any(w["title"] == "Jarvis" for w in gnome.snapshot()["windows"]),
        "the status window to close with the app",
    )
