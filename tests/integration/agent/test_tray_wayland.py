"""The tray on a Wayland desktop: a StatusNotifierItem where a tray host runs (waybar on sway
here, as KDE's panel or GNOME's AppIndicator extension would be), the status window where none
does. The real tray app (`jarvis run`) runs as a native Wayland client of a real headless sway."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from jarvis_agent.config import ConfigStore
from tests.integration.agent.conftest import JARVIS, jarvis, wait_for
from tests.support.session_bus import SessionBus, stop
from tests.support.sni import (
    count_near,
    item_properties,
    jarvis_item,
    largest_pixmap_rgb,
    registered_items,
    start_waybar,
)
from tests.support.wayland import Sway

pytestmark = pytest.mark.wayland

CAPTURING_RED = (0xE5, 0x35, 0x2B)
PAUSED_AMBER = (0xF5, 0xA6, 0x23)


@pytest.fixture
def tray_env(
    sway: Sway, session_bus: SessionBus, jarvis_home: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    """sway's session environment with the private bus; secrets in a private file (no keyring
    is needed to show a tray), and no scheduled capture to get in the way."""
    for name, value in sway.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("JARVIS_SECRETS_FILE", str(jarvis_home / "secrets.json"))
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    store = ConfigStore()
    store.set_value("capture.interval_seconds", "3600")
    store.set_value("capture.window_change_trigger", "false")
    return dict(os.environ)


@pytest.fixture
def tray_app(tray_env: dict[str, str], tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`jarvis run` (the tray app, not --headless) in the sway session; quit with SIGTERM."""
    log = (tmp_path / "tray.log").open("wb")
    process = subprocess.Popen([JARVIS, "run"], env=tray_env, stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        yield process
    finally:
        stop(process)


def test_tray_registers_its_item_with_the_watcher_and_shows_the_state(
    sway: Sway, session_bus: SessionBus, tray_env: dict[str, str], tmp_path: Path
) -> None:
    """With waybar's tray on sway, the Jarvis tray registers a StatusNotifierItem (Title
    "Jarvis", Status "Active", the state in its tooltip, a red recording icon), shows no status
    window, and `jarvis pause` turns the item's icon amber."""
    waybar = start_waybar(sway, session_bus, tmp_path)
    try:
        process = subprocess.Popen(
            [JARVIS, "run"], env=tray_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            item, props = jarvis_item(session_bus.address)
            assert (props["Id"], props["Title"], props["Status"]) == ("Jarvis", "Jarvis", "Active")
            assert props["Category"] == "ApplicationStatus"
            assert props["ToolTip"][2].startswith("Jarvis — Capturing")
            assert count_near(largest_pixmap_rgb(props["IconPixmap"]), CAPTURING_RED) > 20

            assert jarvis("pause", check=True).stdout == "Paused until resumed.\n"
            wait_for(
                lambda: (
                    count_near(
                        largest_pixmap_rgb(
                            item_properties(session_bus.address, item)["IconPixmap"]
                        ),
                        PAUSED_AMBER,
                    )
                    > 20
                ),
                "the amber paused icon",
            )
            assert item_properties(session_bus.address, item)["ToolTip"][2].startswith(
                "Jarvis — Paused"
            )
            assert not any(v.get("name") == "Jarvis" for v in sway.views())
        finally:
            stop(process)
        wait_for(lambda: not registered_items(session_bus.address), "the item to go with the app")
    finally:
        stop(waybar)


def test_without_a_tray_host_the_status_window_is_shown(
    sway: Sway, session_bus: SessionBus, tray_app: subprocess.Popen[bytes]
) -> None:
    """With no StatusNotifierWatcher on the bus, the tray app gives up waiting for a tray and
    shows its status window, a native Wayland window titled "Jarvis" on sway."""
    window = sway.view("Jarvis")  # waits (the tray app waits 10 s for a tray host first)
    assert window["visible"]
    assert registered_items(session_bus.address) == []
    assert tray_app.poll() is None
