"""`jarvis setup kde|gnome`: the one-time steps a Wayland desktop needs before Jarvis can capture
it (KWin: authorize its screenshots; GNOME: install and enable Jarvis's Shell extension, and show
GNOME's one-time screen-sharing dialog after saying what it is)."""

from __future__ import annotations

import click

__all__ = ["register"]

_PROMPT_EXPLAINED = """\
GNOME lets a program see the screen only after you share it once. GNOME will now show its
screen-sharing dialog ("Screen Share"): select every monitor, keep "Remember this selection"
ticked, and press Share. GNOME remembers it: Jarvis keeps the token GNOME gives back (readable by
you only) and never makes this dialog appear by itself. Frames go from GNOME to Jarvis in memory;
no screenshot file is written. Every window you excluded is blacked out before any frame is
stored."""


@click.group("setup")
def setup_group() -> None:
    """One-time steps a desktop needs before Jarvis can capture it."""


@setup_group.command("kde")
def kde_command() -> None:
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


@setup_group.command("gnome")
@click.option(
    "--no-ask",
    is_flag=True,
    help="Only explain GNOME's screen-sharing dialog; do not make it appear now.",
)
def gnome_command(no_ask: bool) -> None:
    """Install and enable the Jarvis GNOME Shell extension; share the screens once."""
    from jarvis_platform import PlatformError
    from jarvis_platform.gnome_dbus import EXTENSION, Bus
    from jarvis_platform.gnome_screencast import ask_screencast_permission, screencast_readiness
    from jarvis_platform.gnome_setup import enable_extension, install_extension

    try:
        path = install_extension()
        click.echo(f"Installed the Jarvis GNOME Shell extension in {path}")
        newly = enable_extension()
    except (OSError, PlatformError) as exc:
        raise click.ClickException(f"could not set up the GNOME Shell extension: {exc}") from None
    click.echo("Enabled it." if newly else "It was already enabled.")
    try:
        bus = Bus()
    except PlatformError as exc:
        raise click.ClickException(
            f"{exc}. Run `jarvis setup gnome` from inside your GNOME session."
        ) from None
    try:
        if bus.has_owner(EXTENSION.bus_name):
            click.echo("The extension is running.")
        else:
            click.echo(
                "GNOME loads a new extension at the next login on Wayland: log out and back in "
                "once, and Jarvis will see your windows."
            )
        problem = screencast_readiness(bus)
        if problem is None:
            click.echo("Screen sharing: already allowed. GNOME is ready for Jarvis.")
            return
        click.echo(_PROMPT_EXPLAINED)
        if no_ask:
            click.echo("Run `jarvis setup gnome` again without --no-ask when you are ready.")
            return
        click.echo("Asking GNOME now...")
        if not ask_screencast_permission(bus):
            raise click.ClickException(
                "the screens were not shared, so Jarvis captures nothing on GNOME. Run "
                "`jarvis setup gnome` again and press Share."
            )
        click.echo("Screen sharing: allowed. GNOME is ready for Jarvis.")
    except PlatformError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        bus.close()


def register(cli: click.Group) -> None:
    """Add this module's commands to `cli`."""
    cli.add_command(setup_group)
