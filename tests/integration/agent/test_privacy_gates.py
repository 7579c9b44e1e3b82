"""What a user relies on: nothing reaches the server while idle, locked, paused or outside active
hours; excluded windows are black in the stored image; titles are left out when asked; and bad
settings are refused by name while the running agent carries on."""

from __future__ import annotations

import io
import signal
from datetime import datetime, timedelta

import numpy as np
import pytest
from PIL import Image
from Xlib import display

from jarvis_platform.x11 import X11Platform
from tests.integration.agent.conftest import HeadlessAgent, jarvis, wait_for

pytestmark = [pytest.mark.x11, pytest.mark.keyring, pytest.mark.slow]


def _x_idle_seconds(name: str) -> float:
    d = display.Display(name)
    try:
        return int(d.screen().root.screensaver_query_info().idle) / 1000.0
    finally:
        d.close()


def _stored_count_after_sync(agent: HeadlessAgent) -> int:
    jarvis("sync-now", check=True)
    wait_for(lambda: agent.status()["sync"]["queued"] == 0, "the outbox to drain")
    return len(agent.stored())


def test_idle_desktop_stores_nothing_until_input(headless_agent: HeadlessAgent) -> None:
    """Past the idle threshold capture-now is refused as idle; a mouse move brings captures back."""
    agent = headless_agent
    agent.configure(**{"privacy.idle_threshold_seconds": "2"})
    agent.start()
    baseline = _stored_count_after_sync(agent)
    wait_for(lambda: _x_idle_seconds(agent.desktop.display) > 2.5, "two idle seconds on X")

    done = jarvis("capture-now", check=True)
    assert done.stdout.startswith("Not captured: no input for ")
    assert agent.status()["state"] == "idle"
    assert _stored_count_after_sync(agent) == baseline

    agent.desktop.run("xdotool", "mousemove_relative", "--", "5", "5")
    done = jarvis("capture-now", check=True)
    assert done.stdout.startswith("Captured 1 frame")
    assert agent.status()["state"] == "capturing"
    assert _stored_count_after_sync(agent) == baseline + 1


def test_locked_screen_stores_nothing(headless_agent: HeadlessAgent) -> None:
    """While the screensaver is on (the session looks locked), nothing is captured or stored."""
    agent = headless_agent
    agent.start()
    baseline = _stored_count_after_sync(agent)
    agent.desktop.screensaver(True)
    try:
        done = jarvis("capture-now", check=True)
        assert done.stdout.startswith("Not captured: screen locked or screensaver on")
        assert agent.status()["state"] == "locked"
        assert _stored_count_after_sync(agent) == baseline
    finally:
        agent.desktop.screensaver(False)
    done = jarvis("capture-now", check=True)
    assert done.stdout.startswith("Captured 1 frame")


def test_outside_active_hours_stores_nothing_until_hours_change(
    headless_agent: HeadlessAgent,
) -> None:
    """Outside the active hours nothing is stored; clearing them (live, via config set) resumes."""
    agent = headless_agent
    now = datetime.now()
    start, end = (now + timedelta(hours=2)).time(), (now + timedelta(hours=3)).time()
    agent.configure(
        **{"privacy.active_hours": f'{{"start": "{start:%H:%M}", "end": "{end:%H:%M}"}}'}
    )
    agent.start()
    assert agent.status()["state"] == "outside_hours"
    done = jarvis("capture-now", check=True)
    assert done.stdout.startswith("Not captured: outside active hours (")
    assert _stored_count_after_sync(agent) == 0

    done = jarvis("config", "set", "privacy.active_hours", "none", check=True)
    assert "The running agent now uses it." in done.stdout
    done = jarvis("capture-now", check=True)
    assert done.stdout.startswith("Captured 1 frame")
    assert _stored_count_after_sync(agent) == 1


def test_excluded_background_window_is_black_in_the_stored_image(
    headless_agent: HeadlessAgent,
) -> None:
    """A private-browsing window behind another: its visible pixels are black on the server, the
    window covering it and the rest of the screen arrive intact."""
    agent = headless_agent
    desktop = agent.desktop
    desktop.spawn_xterm(
        "Online banking — Mozilla Firefox Private Browsing",
        "firefox",
        "100x30+200+150",
        background="red",
    )
    desktop.spawn_xterm("Notes", "XTerm", "60x20+600+300", background="green")
    platform = X11Platform()
    try:
        windows = {w.title: w for w in platform.windows()}
    finally:
        platform.close()
    private = windows["Online banking — Mozilla Firefox Private Browsing"].rect
    notes = windows["Notes"].rect
    assert windows["Notes"].active
    assert private.intersect(notes) is not None  # partly covered, partly visible
    agent.start()
    screen = np.asarray(desktop.grab())
    done = jarvis("capture-now", check=True)
    assert "excluded region(s) blacked out" in done.stdout

    stored = agent.sync_and_wait(1)[-1]
    image = np.asarray(Image.open(io.BytesIO(agent.server.image_bytes(stored.id))).convert("RGB"))
    assert image.shape == screen.shape
    excluded = np.zeros(screen.shape[:2], dtype=bool)
    excluded[private.y : private.bottom, private.x : private.right] = True
    excluded[notes.y : notes.bottom, notes.x : notes.right] = False
    # On the real screen the private window is there, red; in the stored image it is black.
    assert (screen[excluded] == (255, 0, 0)).all(axis=1).mean() > 0.5
    assert not image[excluded].any()
    # Everything else, the covering window included, is as it was on screen.
    assert (image[~excluded] == screen[~excluded]).all(axis=1).mean() > 0.999
    inside_notes = image[notes.y + 40 : notes.bottom - 10, notes.x + 10 : notes.right - 10]
    assert (inside_notes == (0, 255, 0)).all(axis=2).mean() > 0.9
    assert stored.redacted_regions >= 1
    assert stored.window_title == "Notes"
    assert stored.app_name == "XTerm"


def test_password_manager_web_vault_is_black_in_the_stored_image(
    headless_agent: HeadlessAgent,
) -> None:
    """A browser window showing a password manager's web vault is black on the server by
    default, like the desktop app; a page that only mentions password managers is not."""
    agent = headless_agent
    desktop = agent.desktop
    vault_title = "My Vault | Bitwarden — Mozilla Firefox"
    news_title = "Password managers compared: 1Password vs Bitwarden — Mozilla Firefox"
    desktop.spawn_xterm(vault_title, "firefox", "70x20+100+100", background="red")
    desktop.spawn_xterm(news_title, "firefox", "70x20+1000+500", background="green")
    platform = X11Platform()
    try:
        windows = {w.title: w for w in platform.windows()}
    finally:
        platform.close()
    vault, news = windows[vault_title].rect, windows[news_title].rect
    assert windows[news_title].active  # the vault is visible, not focused: it is blacked out
    agent.start()
    done = jarvis("capture-now", check=True)
    assert "excluded region(s) blacked out" in done.stdout

    stored = agent.sync_and_wait(1)[-1]
    image = np.asarray(Image.open(io.BytesIO(agent.server.image_bytes(stored.id))).convert("RGB"))
    assert not image[vault.y : vault.bottom, vault.x : vault.right].any()
    inside_news = image[news.y + 40 : news.bottom - 10, news.x + 10 : news.right - 10]
    assert (inside_news == (0, 255, 0)).all(axis=2).mean() > 0.9
    assert stored.window_title == news_title
    assert stored.redacted_regions == 1


def test_titles_are_omitted_once_the_option_is_set(headless_agent: HeadlessAgent) -> None:
    """With privacy.omit_titles set (while running), the server gets no window title."""
    agent = headless_agent
    agent.desktop.spawn_xterm("Quarterly plan.odt - LibreOffice", "libreoffice-writer")
    agent.start()
    first = agent.sync_and_wait(1)[-1]
    assert first.window_title == "Quarterly plan.odt - LibreOffice"

    done = jarvis("config", "set", "privacy.omit_titles", "true", check=True)
    assert "The running agent now uses it." in done.stdout
    assert jarvis("capture-now", check=True).stdout.startswith("Captured 1 frame")
    latest = agent.sync_and_wait(2)[-1]
    assert latest.window_title is None
    assert latest.app_name == "libreoffice-writer"


def test_invalid_settings_are_refused_by_name_and_the_agent_keeps_going(
    headless_agent: HeadlessAgent,
) -> None:
    """`config set` refuses a bad value naming key, value and range; a bad hand edit leaves the
    running agent on its last good settings (and says so); a new agent refuses to start on it."""
    agent = headless_agent
    agent.start()
    done = jarvis("config", "set", "capture.interval_seconds", "0")
    assert done.returncode == 1
    assert 'capture.interval_seconds = "0" is too small; use a number from 1 to 3600' in done.stderr

    path = agent.store.path
    path.write_text(path.read_text() + "\n[ui]\npause_hotkey = 'p'\n")
    assert agent.process is not None
    agent.process.send_signal(signal.SIGHUP)
    status = wait_for(
        lambda: (s := agent.status())["config_error"] and s, "the agent to report the bad file"
    )
    assert "ui.pause_hotkey" in status["config_error"]
    assert "Config:     NOT reloaded" in jarvis("status", check=True).stdout
    assert jarvis("capture-now", check=True).stdout.startswith("Captured 1 frame")

    agent.stop()
    done = jarvis("run", "--headless", timeout=60)
    assert done.returncode == 1
    assert 'ui.pause_hotkey = "p" is not valid' in done.stderr
    assert str(path) in done.stderr
