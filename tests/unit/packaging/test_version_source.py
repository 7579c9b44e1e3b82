"""The one version: the root VERSION file, read by every member package."""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[3]
MEMBERS = {
    "agent": "jarvis-agent",
    "sync": "jarvis-sync",
    "ui": "jarvis-ui",
    "server": "jarvis-server",
}


def test_version_file_holds_a_valid_version() -> None:
    """VERSION holds one PEP 440 version and nothing else."""
    text = (ROOT / "VERSION").read_text(encoding="utf-8")
    assert text.strip() == str(Version(text.strip()))
    assert len(text.splitlines()) == 1


@pytest.mark.parametrize("member", sorted(MEMBERS))
def test_member_takes_its_version_from_the_version_file(member: str) -> None:
    """No member pyproject states a version of its own; each reads ../VERSION through hatchling."""
    project = tomllib.loads((ROOT / member / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == "../VERSION"
    cache_keys = project["tool"]["uv"]["cache-keys"]
    assert {"file": "../VERSION"} in cache_keys  # a bump rebuilds the editable install


@pytest.mark.parametrize("member", sorted(MEMBERS))
def test_installed_member_carries_the_version(member: str) -> None:
    """Each installed distribution reports VERSION (a stale editable install fails here)."""
    wanted = (ROOT / "VERSION").read_text(encoding="utf-8").strip()
    assert version(MEMBERS[member]) == wanted, (
        f"{MEMBERS[member]} is installed as {version(MEMBERS[member])}; run `uv sync`"
    )
