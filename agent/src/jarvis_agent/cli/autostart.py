"""`jarvis` commands: autostart enable|disable|status (packaging issue)."""

from __future__ import annotations

import json
import shlex

import click

from jarvis_agent.autostart import (
    AutostartError,
    AutostartStatus,
    autostart_for_platform,
    launch_command,
)


def _describe(status: AutostartStatus) -> str:
    if not status.enabled:
        return f"disabled: Jarvis does not start at login ({status.location})"
    command = shlex.join(status.command or ())
    return f"enabled: Jarvis starts at login ({status.location})\ncommand: {command}"


@click.group("autostart")
def autostart() -> None:
    """Start Jarvis at login (XDG autostart, LaunchAgent or the Run key)."""


@autostart.command("enable")
@click.option(
    "--headless", is_flag=True, help="Start the agent without the tray (`jarvis run --headless`)."
)
@click.pass_context
def enable(ctx: click.Context, headless: bool) -> None:
    """Start Jarvis at every login from now on."""
    root_ctx = ctx.find_root()
    root = root_ctx.command
    # get_command, not .commands: the tray's commands load only when asked for.
    if not headless and not (
        isinstance(root, click.Group) and root.get_command(root_ctx, "tray") is not None
    ):
        # `jarvis` alone would only print help: start the agent itself.
        headless = True
        click.echo(
            "The tray app is not installed: the headless agent will start at login.", err=True
        )
    try:
        status = autostart_for_platform().enable(launch_command(headless=headless))
    except AutostartError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(_describe(status))


@autostart.command("disable")
def disable() -> None:
    """Stop starting Jarvis at login."""
    try:
        backend = autostart_for_platform()
        removed = backend.disable()
    except AutostartError as exc:
        raise click.ClickException(str(exc)) from exc
    if removed:
        click.echo(f"disabled: Jarvis no longer starts at login (removed {backend.location})")
    else:
        click.echo("disabled: Jarvis was not set to start at login")


@autostart.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as a JSON object.")
def status(as_json: bool) -> None:
    """Say whether Jarvis starts at login, and with which command."""
    try:
        current = autostart_for_platform().status()
    except AutostartError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        payload = {
            "enabled": current.enabled,
            "location": current.location,
            "command": list(current.command) if current.command else None,
        }
        click.echo(json.dumps(payload))
    else:
        click.echo(_describe(current))


def register(cli: click.Group) -> None:
    """Add this module's commands to `cli`."""
    cli.add_command(autostart)
