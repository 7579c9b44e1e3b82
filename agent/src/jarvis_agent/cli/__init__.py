"""The `jarvis` command line.

Sub-commands live in modules of this package and are added in `_register`. Other installed
packages (the tray app) add commands through the `jarvis.commands` entry-point group, so this
package never imports them.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points

import click

from jarvis_agent import __version__


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="jarvis", message="%(prog)s %(version)s")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Jarvis: privacy-first desktop capture agent."""
    if ctx.invoked_subcommand is not None:
        return
    tray = cli.commands.get("tray")
    if tray is None:
        click.echo(ctx.get_help())
        click.echo(
            "\nThe tray app is not installed; run the agent with `jarvis run --headless`.", err=True
        )
        ctx.exit(0)
    ctx.invoke(tray)


# Each module holds one family of commands and exposes `register(group)`.
_COMMAND_MODULES = ("runtime", "settings", "account", "outbox", "autostart", "hotkey")


def _register() -> None:
    for name in _COMMAND_MODULES:
        module = import_module(f"jarvis_agent.cli.{name}")
        module.register(cli)
    for ep in entry_points(group="jarvis.commands"):
        register = ep.load()
        register(cli)


def main() -> None:
    _register()
    cli(prog_name="jarvis")
