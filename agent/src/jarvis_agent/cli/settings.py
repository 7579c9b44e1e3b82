"""`jarvis` commands: config show|set|edit, exclusions list|add|remove|test."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    """Add this module's commands to `cli`."""
    del cli
