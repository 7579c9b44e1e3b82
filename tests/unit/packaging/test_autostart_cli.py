"""`jarvis autostart enable|disable|status`, run as a user would, against a private HOME."""

from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

JARVIS = shutil.which("jarvis")


def _run(
    home: Path, *args: str, xdg_config_home: Path | None = None
) -> subprocess.CompletedProcess[str]:
    assert JARVIS is not None, "the jarvis command is not installed in this environment"
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env["HOME"] = str(home)
    if xdg_config_home is not None:
        env["XDG_CONFIG_HOME"] = str(xdg_config_home)
    return subprocess.run(
        [JARVIS, "autostart", *args], env=env, capture_output=True, text=True, timeout=60
    )


def _exec_line(entry: Path) -> str:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(entry)
    return parser["Desktop Entry"]["Exec"]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir()
    return path


def test_enable_status_disable_round_trip(home: Path, tmp_path: Path) -> None:
    """enable creates the entry with the jarvis program on its Exec line, status says enabled,
    disable removes it and status says disabled."""
    config = tmp_path / "config"
    entry = config / "autostart" / "jarvis.desktop"

    before = _run(home, "status", xdg_config_home=config)
    assert before.returncode == 0, before.stderr
    assert before.stdout.startswith("disabled")

    enabled = _run(home, "enable", xdg_config_home=config)
    assert enabled.returncode == 0, enabled.stderr
    assert entry.is_file()
    assert Path(_exec_line(entry)).name == "jarvis"
    assert Path(_exec_line(entry)).is_file()
    assert str(entry) in enabled.stdout

    status = _run(home, "status", xdg_config_home=config)
    assert status.stdout.startswith("enabled")
    assert str(entry) in status.stdout

    disabled = _run(home, "disable", xdg_config_home=config)
    assert disabled.returncode == 0, disabled.stderr
    assert not entry.exists()
    assert _run(home, "status", xdg_config_home=config).stdout.startswith("disabled")


def test_headless_entry_runs_the_agent_without_the_tray(home: Path) -> None:
    """`enable --headless` starts `jarvis run --headless` at login; status --json says so."""
    result = _run(home, "enable", "--headless")
    assert result.returncode == 0, result.stderr
    entry = home / ".config" / "autostart" / "jarvis.desktop"
    assert _exec_line(entry).endswith(" run --headless")
    status = json.loads(_run(home, "status", "--json").stdout)
    assert status["enabled"] is True
    assert status["location"] == str(entry)
    assert status["command"][1:] == ["run", "--headless"]


def test_disable_when_not_enabled_says_so(home: Path) -> None:
    """Disabling when nothing was set up succeeds and says Jarvis was not set to start."""
    result = _run(home, "disable")
    assert result.returncode == 0
    assert "was not set to start at login" in result.stdout


def test_unreadable_entry_gives_a_clear_error(home: Path) -> None:
    """A broken autostart file makes status fail with a message naming the file, no traceback."""
    entry = home / ".config" / "autostart" / "jarvis.desktop"
    entry.parent.mkdir(parents=True)
    entry.write_text("garbage without a group\n")
    result = _run(home, "status")
    assert result.returncode == 1
    assert str(entry) in result.stderr
    assert "Traceback" not in result.stderr


def test_without_the_tray_app_login_starts_the_headless_agent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the tray app is not installed (`jarvis` alone would only print help), enable makes
    the login entry run `jarvis run --headless` and says so."""
    import click
    from click.testing import CliRunner

    from jarvis_agent.cli import autostart as autostart_cli

    @click.group()
    def cli() -> None:
        """A `jarvis` without the tray's commands."""

    autostart_cli.register(cli)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    result = CliRunner().invoke(cli, ["autostart", "enable"])
    assert result.exit_code == 0, result.output
    assert "headless agent will start at login" in result.output
    entry = tmp_path / ".config" / "autostart" / "jarvis.desktop"
    assert _exec_line(entry).endswith(" run --headless")
