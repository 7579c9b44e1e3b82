"""`jarvis setup kde`: the one-time step that lets KWin give Jarvis its screenshots."""

from __future__ import annotations

import click


@click.group("setup")
def setup() -> None:
    """One-time desktop steps Jarvis needs (KDE Plasma on Wayland)."""


@setup.command("kde")
def kde() -> None:
    """Authorize this program for KWin's screenshots (org.kde.KWin.ScreenShot2)."""
    from jarvis_platform import PlatformError
    from jarvis_platform.kwin_shot import authorize, executable

    try:
        path = authorize()
    except (OSError, PlatformError) as exc:
        raise click.ClickException(
            f"could not write KWin's authorization file: {exc}; nothing was changed"
        ) from exc
    click.echo(f"KWin will let {executable()} take screenshots ({path}).")
    click.echo("Check it with `jarvis doctor`.")


def register(group: click.Group) -> None:
    group.add_command(setup)
