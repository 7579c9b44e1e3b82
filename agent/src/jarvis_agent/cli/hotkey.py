"""`jarvis hotkey sway`: the pause hotkey as a sway binding (pynput sees no keys on Wayland)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import click

from jarvis_agent.config import ConfigError, ConfigStore
from jarvis_agent.paths import agent_paths
from jarvis_agent.sway_hotkey import SwayHotkeyError, remember_applied_binding, sway_binding

__all__ = ["register"]


def _jarvis_program() -> str:
    """This program's absolute path: sway's exec has its own PATH, which may not find `jarvis`."""
    argv0 = sys.argv[0]
    if os.path.basename(argv0) == "jarvis" and os.path.isfile(argv0):
        return os.path.abspath(argv0)
    return shutil.which("jarvis") or "jarvis"


@click.group("hotkey")
def hotkey_group() -> None:
    """The pause hotkey where the tray cannot listen for keys (Wayland compositors)."""


@hotkey_group.command("sway")
@click.option(
    "--apply",
    is_flag=True,
    help="Also add the binding to the running sway now (swaymsg); it lasts until sway reloads.",
)
def sway_command(apply: bool) -> None:
    """Print the sway config line that makes ui.pause_hotkey pause and resume Jarvis."""
    try:
        spec = ConfigStore(agent_paths().config_file).load().ui.pause_hotkey
        line = sway_binding(spec, _jarvis_program())
    except (ConfigError, SwayHotkeyError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(line)
    if not apply:
        click.echo("Add this line to your sway config (~/.config/sway/config).", err=True)
        return
    if not os.environ.get("SWAYSOCK"):
        raise click.ClickException("SWAYSOCK is not set: run `jarvis hotkey sway --apply` in sway")
    if shutil.which("swaymsg") is None:
        raise click.ClickException("swaymsg is not installed (it comes with sway)")
    done = subprocess.run(
        ["swaymsg", "--", line], capture_output=True, text=True, check=False, timeout=30
    )
    if done.returncode != 0:
        why = (done.stderr or done.stdout).strip()
        raise click.ClickException(f"sway refused the binding: {why}")
    record = agent_paths().ensure().sway_hotkey_record
    remember_applied_binding(record, os.environ["SWAYSOCK"], line)
    click.echo("Added to the running sway; add the line to your sway config to keep it.", err=True)


def register(cli: click.Group) -> None:
    """Add this module's commands to `cli`."""
    cli.add_command(hotkey_group)
