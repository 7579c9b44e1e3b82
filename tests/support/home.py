"""A private JARVIS_HOME for every test, so no test reads or writes the user's real files."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def jarvis_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """JARVIS_HOME points into the test's temporary directory."""
    home = tmp_path / "jarvis-home"
    home.mkdir()
    monkeypatch.setenv("JARVIS_HOME", str(home))
    return home
