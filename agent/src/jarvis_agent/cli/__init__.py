"""The `jarvis` command line.

Sub-commands live in modules of this package; `_BUILT_IN` says which module holds which command,
and a module is imported only when one of its commands runs (or for `--help`), so `jarvis
--version` or `jarvis status` do not pay for the config models, the keyring or the HTTP client.
Other installed packages (the tray app) add commands through the `jarvis.commands` entry-point
group, so this package never imports them; the entry points are read only when the command asked
for is not a built-in one, or for the list of commands.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

import click

# Command name -> module of this package holding it; each module exposes `register(group)`.
_BUILT_IN = {
    "run": "runtime",
    "status": "runtime",
    "pause": "runtime",
    "resume": "runtime",
    "capture-now": "runtime",
    "sync-now": "runtime",
    "doctor": "runtime",
    "config": "settings",
    "exclusions": "settings",
    "login": "account",
    "logout": "account",
    "outbox": "outbox",
    "autostart": "autostart",
    "hotkey": "hotkey",
    "setup": "setup",
    "captures": "captures",
    "search": "search",
}
_COMMAND_MODULES = tuple(dict.fromkeys(_BUILT_IN.values()))


class LazyGroup(click.Group):
    """A group that imports a command's module only when the command is asked for."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded: set[str] = set()
        self._entry_points_loaded = False

    def _load_module(self, name: str) -> None:
        if name not in self._loaded:
            self._loaded.add(name)
            import_module(f"jarvis_agent.cli.{name}").register(self)

    def _load_entry_points(self) -> None:
        if not self._entry_points_loaded:
            self._entry_points_loaded = True
            from importlib.metadata import entry_points

            for ep in entry_points(group="jarvis.commands"):
                ep.load()(self)

    def load_all(self) -> None:
        """Import every command: the built-in modules and the `jarvis.commands` entry points."""
        for name in _COMMAND_MODULES:
            self._load_module(name)
        self._load_entry_points()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = _BUILT_IN.get(cmd_name)
        if module is not None:
            self._load_module(module)
        elif cmd_name not in self.commands:
            self._load_entry_points()
        return self.commands.get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.load_all()
        return sorted(self.commands)


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from jarvis_agent import __version__

    click.echo(f"jarvis {__version__}", color=ctx.color)
    ctx.exit()


@click.group(
    cls=LazyGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Jarvis: privacy-first desktop capture agent."""
    if ctx.invoked_subcommand is not None:
        return
    tray = cli.get_command(ctx, "tray")
    if tray is None:
        click.echo(ctx.get_help())
        click.echo(
            "\nThe tray app is not installed; run the agent with `jarvis run --headless`.", err=True
        )
        ctx.exit(0)
    ctx.invoke(tray)


def _register() -> None:
    """Import every command now (tests that invoke `cli` in-process use it)."""
    assert isinstance(cli, LazyGroup)
    cli.load_all()


def main() -> None:
    cli(prog_name="jarvis")
