"""The `jarvis-server` command line."""

from __future__ import annotations

import click

from jarvis_server import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", prog_name="jarvis-server", message="%(prog)s %(version)s"
)
def cli() -> None:
    """Jarvis ingest server."""


def main() -> None:
    cli(prog_name="jarvis-server")
