"""Where the agent keeps its files."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from jarvis_agent.paths import agent_paths


def test_jarvis_home_relocates_every_directory(jarvis_home: Path) -> None:
    """With JARVIS_HOME set, config, data, logs and the control socket all live under it."""
    paths = agent_paths()
    for path in (paths.config_file, paths.outbox_dir, paths.agent_log, paths.control_socket):
        assert path.is_relative_to(jarvis_home)


def test_without_xdg_runtime_dir_the_socket_stays_private_and_silent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over ssh (no XDG_RUNTIME_DIR) the socket goes under the user's data dir, with no warning."""
    monkeypatch.delenv("JARVIS_HOME")
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        paths = agent_paths()
    assert paths.control_socket == tmp_path / "data" / "jarvis" / "run" / "agent.sock"
    paths.ensure()
    assert (paths.runtime_dir.stat().st_mode & 0o777) == 0o700
