"""Commands the tray app adds to the `jarvis` command line (entry point `jarvis.commands`)."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    """Add the tray app's commands to the agent's command group; Qt is imported only when run."""
    del cli  # the tray and `up` commands land with the tray issue
