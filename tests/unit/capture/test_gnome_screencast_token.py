"""Where Jarvis keeps GNOME's screen-cast restore token, and how: the agent's data directory,
readable by the user only, replaced whole."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from jarvis_agent.paths import agent_paths
from jarvis_platform.gnome_screencast import _read_token, _write_token, screencast_token_file

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="GNOME runs on Linux only")


def test_the_token_lives_in_the_agents_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The platform finds the same data directory the agent uses, with and without
    JARVIS_HOME (the platform package cannot import the agent's paths)."""
    assert screencast_token_file().parent == agent_paths().data_dir  # JARVIS_HOME (tests)
    monkeypatch.delenv("JARVIS_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert screencast_token_file().parent == agent_paths().data_dir


def test_the_token_file_is_private_and_replaced_whole(tmp_path: Path) -> None:
    """Whoever holds the token can cast the screen without a dialog: 0600 in a 0700 folder,
    written to a staging file and renamed over the old one (no half-written token)."""
    file = tmp_path / "data" / "gnome-screencast.token"
    assert _read_token(file) is None
    _write_token(file, "11111111-1111-4111-8111-111111111111")
    _write_token(file, "22222222-2222-4222-8222-222222222222")
    assert _read_token(file) == "22222222-2222-4222-8222-222222222222"
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert stat.S_IMODE(file.parent.stat().st_mode) == 0o700
    assert sorted(p.name for p in file.parent.iterdir()) == [file.name]
