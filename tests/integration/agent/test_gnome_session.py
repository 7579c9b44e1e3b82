"""A real headless agent inside a real headless GNOME Shell, driven through the real `jarvis` CLI:
the stored image on the server has the excluded window black; `jarvis doctor` names the GNOME
backend or what is missing; `jarvis setup gnome` installs and enables the extension.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from jarvis_platform.gnome_screencast import screencast_token_file
from jarvis_platform.gnome_setup import EXTENSION_UUID
from jarvis_sync import credentials
from tests.integration.agent.conftest import HeadlessAgent, jarvis
from tests.support.gnome import Gnome

pytestmark = pytest.mark.gnome

RED = (255, 0, 0)
GREEN = (0, 255, 0)


@pytest.fixture
def gnome_env(gnome: Gnome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Gnome:
    """This test's environment is the GNOME session's (its session bus holds no keyring, so the
    agent's secrets go to the opt-in secrets file)."""
    for name, value in gnome.env.items():
        if name != "PATH":
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("SWAYSOCK", raising=False)
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv(credentials.SECRETS_FILE_ENV, str(tmp_path / "secrets.json"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return gnome


@pytest.fixture
def gnome_agent(headless_agent: HeadlessAgent, gnome_env: Gnome) -> HeadlessAgent:
    credentials.store_token(headless_agent.server.create_token(headless_agent.device))
    return headless_agent


def test_stored_image_has_the_excluded_window_black(
    gnome_agent: HeadlessAgent, gnome_env: Gnome
) -> None:
    """capture-now on GNOME: the image the server stored has no pixel of the excluded window,
    and the window in front of the user is there."""
    gnome = gnome_env
    gnome.grant_screencast(screencast_token_file())
    agent = gnome_agent
    jarvis("exclusions", "add", "Vault", "--app", "KeePassXC", check=True)
    gnome.spawn_foot("KeePassXC", "Passwords.kdbx - KeePassXC")
    gnome.spawn_foot("notes", "notes", background="00ff00")
    gnome.focused("notes")
    agent.start()
    done = jarvis("capture-now", check=True)
    assert done.stdout.startswith("Captured 1 frame"), done.stdout
    [stored] = agent.sync_and_wait(1)[-1:]
    image = np.asarray(Image.open(io.BytesIO(agent.server.image_bytes(stored.id))).convert("RGB"))
    assert image.shape[:2] == (1080, 1920)
    assert int(np.all(image == RED, axis=2).sum()) == 0
    assert int(np.all(image == GREEN, axis=2).sum()) > 100_000


def test_doctor_names_the_gnome_backend_or_what_is_missing(gnome_env: Gnome) -> None:
    """`jarvis doctor` says the GNOME backend is in use; with screen sharing revoked it fails
    the display line naming GNOME, the permission and `jarvis setup gnome`."""
    gnome = gnome_env
    gnome.grant_screencast(screencast_token_file())
    done = jarvis("doctor")
    assert "OK   display server: GNOME backend in use." in done.stdout, done.stdout
    assert "OK   screen capture: grabbed 1920x1080 from monitor 0 of 1" in done.stdout

    gnome.grant_screencast(screencast_token_file(), allowed=False)
    done = jarvis("doctor")
    assert done.returncode == 1
    assert "FAIL display server: no backend fits this session." in done.stdout
    revoked = "GNOME on Wayland: GNOME's screen sharing was revoked for Jarvis"
    assert f"GNOME (not viable): {revoked}" in done.stdout
    assert f"-> {revoked}" in done.stdout
    assert "run `jarvis setup gnome` and share your screens once" in done.stdout


def test_setup_gnome_installs_and_enables_the_extension(gnome_env: Gnome, tmp_path: Path) -> None:
    """`jarvis setup gnome` copies the extension into the user's extensions folder, enables it in
    GNOME's settings, says it is running, and (screens shared) that GNOME is ready."""
    gnome = gnome_env
    gnome.grant_screencast(screencast_token_file())
    done = jarvis("setup", "gnome", "--no-ask")
    assert done.returncode == 0, done.stderr
    installed = tmp_path / "data/gnome-shell/extensions" / EXTENSION_UUID
    first = done.stdout.splitlines()[0]
    assert first == f"Installed the Jarvis GNOME Shell extension in {installed}"
    metadata = json.loads((installed / "metadata.json").read_text())
    assert metadata["uuid"] == EXTENSION_UUID
    assert metadata["shell-version"] == ["43", "44"]  # the shell here is GNOME 43
    assert "function init()" in (installed / "extension.js").read_text()
    assert "The extension is running." in done.stdout
    assert "Screen sharing: already allowed. GNOME is ready for Jarvis." in done.stdout
    assert EXTENSION_UUID in gnome.gsettings("get", "org.gnome.shell", "enabled-extensions")


def test_setup_gnome_explains_the_screen_sharing_dialog_before_it_appears(
    gnome_env: Gnome,
) -> None:
    """Screens never shared: `jarvis setup gnome --no-ask` explains GNOME's one-time dialog
    (what to choose, that no file is written) without making it appear."""
    screencast_token_file().unlink(missing_ok=True)
    done = jarvis("setup", "gnome", "--no-ask")
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert 'select every monitor, keep "Remember this selection" ticked, and press Share' in text
    assert "never makes this dialog appear by itself" in text
    assert "no screenshot file is written" in text
    assert "Run `jarvis setup gnome` again without --no-ask when you are ready." in done.stdout
    assert os.environ["XDG_CURRENT_DESKTOP"] == "GNOME"


def test_setup_gnome_installs_the_es_module_copy_on_gnome_45_and_later(
    gnome_env: Gnome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`jarvis setup gnome` picks the extension by `gnome-shell --version`: where it says 49 (only
    the version string is faked; the running shell is 43), the ES-module copy for 45-49 is
    installed and enabled."""
    gnome = gnome_env
    gnome.grant_screencast(screencast_token_file())
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "gnome-shell").write_text("#!/bin/sh\necho 'GNOME Shell 49.1'\n")
    (fake / "gnome-shell").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    done = jarvis("setup", "gnome", "--no-ask")
    assert done.returncode == 0, done.stderr
    installed = tmp_path / "data/gnome-shell/extensions" / EXTENSION_UUID
    metadata = json.loads((installed / "metadata.json").read_text())
    assert metadata["shell-version"] == ["45", "46", "47", "48", "49"]
    assert (
        "export default class JarvisExtension extends Extension"
        in (installed / "extension.js").read_text()
    )
    assert EXTENSION_UUID in gnome.gsettings("get", "org.gnome.shell", "enabled-extensions")
