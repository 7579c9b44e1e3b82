"""Commands the tray app adds to the `jarvis` command line (entry point `jarvis.commands`).

Qt is imported only inside the command bodies, so `jarvis status` and friends stay fast.
"""

from __future__ import annotations

import click


def _fail(message: str) -> None:
    click.echo(f"jarvis: {message}", err=True)
    raise SystemExit(1)


def _run(start: object) -> None:
    from jarvis_agent.config import ConfigError
    from jarvis_agent.runtime.instance_lock import AlreadyRunningError
    from jarvis_agent.runtime.service import ServiceError
    from jarvis_sync.errors import SyncError
    from jarvis_ui.startup import NoDisplayError
    from jarvis_ui.up import UpError

    assert callable(start)
    try:
        code = start()
    except (NoDisplayError, UpError, ConfigError, ServiceError, SyncError) as exc:
        _fail(str(exc))
    except AlreadyRunningError:
        from jarvis_agent.paths import agent_paths
        from jarvis_agent.runtime.instance_lock import read_lock_pid
        from jarvis_ui.up import already_running

        _fail(already_running(read_lock_pid(agent_paths().lock_file)))
    else:
        raise SystemExit(code)


@click.command()
def tray() -> None:
    """Start the tray app with the agent (what `jarvis` with no arguments does)."""
    from jarvis_ui.app import run_tray

    _run(run_tray)


@click.command()
@click.option(
    "--port",
    default=8765,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port of the local server on 127.0.0.1.",
)
def up(port: int) -> None:
    """Start a local Jarvis server, log this device in, and start the tray app.

    Reuses a server already answering on the port and a token already in the keyring; the
    server this command starts stops when the tray app quits.
    """

    def say(line: str) -> None:
        click.echo(line, err=True)

    # Said before the imports below (the config, the HTTP client and Qt take about a second), so
    # the user is never left in silence.
    say(f"Up: getting a local server on port {port}, a device token and the tray ready")
    from jarvis_ui import up as up_module

    _run(lambda: up_module.up(port, say))


def register(cli: click.Group) -> None:
    """Add the tray app's commands to the agent's command group."""
    cli.add_command(tray)
    cli.add_command(up)
