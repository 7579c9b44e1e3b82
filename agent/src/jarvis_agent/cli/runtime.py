"""`jarvis` commands: run, status, pause, resume, capture-now, sync-now, doctor."""

from __future__ import annotations

import click


def register(cli: click.Group) -> None:
    """Add this module's commands to `cli`."""
    del cli
