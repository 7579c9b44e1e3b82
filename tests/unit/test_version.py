"""Both commands report the one project version."""

from __future__ import annotations

import shutil
import subprocess

import pytest


@pytest.mark.parametrize("command", ["jarvis", "jarvis-server"])
def test_version_flag_prints_name_and_version(command: str) -> None:
    """`COMMAND --version` prints the command's name and the package version, and exits 0."""
    from importlib.metadata import version

    exe = shutil.which(command)
    assert exe is not None, f"{command} is not installed in this environment"
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"{command} {version('jarvis-agent')}"
