"""The `jarvis-server` command line.

Anything a script may capture (a new token) goes to stdout alone; everything else to stderr.
Start-up problems end the command with one line naming the setting to fix, never a traceback.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import TypeVar

import click
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession

from jarvis_server import __version__
from jarvis_server.core.config import Settings, SettingsError, get_settings
from jarvis_server.core.db import (
    DatabaseURLError,
    create_engine,
    create_sessionmaker,
    is_sqlite,
    parse_database_url,
    sqlite_path,
)
from jarvis_server.migrate import SCHEMA_REVISION, current_revision
from jarvis_server.storage import FilesystemStorage, StorageError

T = TypeVar("T")
DB_VAR = "JARVIS_DATABASE_URL"
STORAGE_VAR = "JARVIS_STORAGE_DIR"


class StartupError(click.ClickException):
    """A one-line reason the command cannot run, printed without a traceback."""

    exit_code = 1

    def show(self, file: object = None) -> None:
        click.echo(f"jarvis-server: {self.message}", err=True)


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return text[0] if text else type(orig).__name__


def _settings() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        raise StartupError(str(exc)) from exc


def _database_url(settings: Settings) -> URL:
    try:
        url = parse_database_url(settings.effective_database_url)
    except DatabaseURLError as exc:
        raise StartupError(f"{DB_VAR}: {exc}") from exc
    path = sqlite_path(url)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StartupError(
                f"{DB_VAR}: cannot create the directory of the SQLite file {path.parent} "
                f"({exc.strerror or exc}); point {DB_VAR} (or JARVIS_HOME) somewhere writable"
            ) from exc
    return url


def _describe(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _should_migrate(settings: Settings, url: URL, no_migrate: bool) -> bool:
    if no_migrate:
        return False
    return settings.auto_migrate if settings.auto_migrate is not None else is_sqlite(url)


def _migrate(url: URL) -> None:
    from jarvis_server.migrate import upgrade

    try:
        upgrade(url)
    except Exception as exc:
        raise StartupError(
            f"{DB_VAR}: cannot migrate {_describe(url)}: {_first_line(exc)}"
        ) from exc


async def _revision(url: URL) -> str | None:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await current_revision(conn)
    except Exception as exc:
        raise StartupError(
            f"{DB_VAR}: cannot connect to {_describe(url)}: {_first_line(exc)}; "
            "start the database or fix the URL"
        ) from exc
    finally:
        await engine.dispose()


def _ensure_schema(settings: Settings, url: URL, *, no_migrate: bool) -> None:
    """Check the database answers and has this server's schema, migrating when allowed."""
    current = asyncio.run(_revision(url))
    if current == SCHEMA_REVISION:
        return
    if _should_migrate(settings, url, no_migrate):
        _migrate(url)
        return
    raise StartupError(
        f"{DB_VAR}: the database {_describe(url)} is at schema revision {current or 'none'}, "
        f"this server needs {SCHEMA_REVISION}; run `jarvis-server migrate`"
    )


async def _check_storage(settings: Settings) -> None:
    try:
        await FilesystemStorage(settings.effective_storage_dir).probe()
    except StorageError as exc:
        raise StartupError(
            f"{STORAGE_VAR}: {exc}; set {STORAGE_VAR} (or JARVIS_HOME) to a writable directory"
        ) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", prog_name="jarvis-server", message="%(prog)s %(version)s"
)
def cli() -> None:
    """Jarvis ingest server."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--no-migrate", is_flag=True, help="Do not apply migrations at start (default on SQLite)."
)
def serve(host: str, port: int, no_migrate: bool) -> None:
    """Serve the ingest API."""
    import uvicorn

    from jarvis_server.app import create_app
    from jarvis_server.connections import guarded_protocol
    from jarvis_server.logs import configure_logging

    settings = _settings()
    url = _database_url(settings)
    asyncio.run(_check_storage(settings))
    _ensure_schema(settings, url, no_migrate=no_migrate)
    configure_logging(settings.server_log_level, json=settings.server_log_json)
    app = create_app(settings)

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # End event streams now: uvicorn waits for open responses before it stops.
            app.state.broadcaster.close()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http=guarded_protocol(
            header_timeout=settings.request_header_timeout_seconds,
            send_timeout=settings.response_send_timeout_seconds,
        ),
        access_log=False,
        log_level=settings.server_log_level.lower(),
        timeout_graceful_shutdown=10,
        server_header=False,
        # On every response, uvicorn's own error replies included: no browser may guess that
        # an image or a document is HTML and run it.
        headers=[("X-Content-Type-Options", "nosniff")],
    )
    server = Server(config)
    server.run()
    if not server.started:
        sys.exit(1)


@cli.command()
def migrate() -> None:
    """Apply database migrations up to the newest schema."""
    settings = _settings()
    url = _database_url(settings)
    asyncio.run(_revision(url))  # a clear line when the database does not answer
    _migrate(url)
    click.echo(f"database {_describe(url)} is up to date", err=True)


def _run_db(
    settings: Settings, no_migrate: bool, work: Callable[[AsyncSession], Awaitable[T]]
) -> T:
    url = _database_url(settings)
    _ensure_schema(settings, url, no_migrate=no_migrate)

    async def run() -> T:
        engine = create_engine(url)
        try:
            async with create_sessionmaker(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    return asyncio.run(run())


@cli.group()
def token() -> None:
    """Create, list and revoke device tokens."""


@token.command("create")
@click.option("--device", required=True, help="Device name; its captures are filed under it.")
@click.option("--admin", is_flag=True, help="May read every device's captures.")
def token_create(device: str, admin: bool) -> None:
    """Print a new token for DEVICE, alone on stdout. An existing device gets a new token."""
    from jarvis_server.tokens import issue_token

    name = device.strip()
    if not name or len(name) > 128:
        raise click.BadParameter("give a device name of 1 to 128 characters", param_hint="--device")
    issued = _run_db(_settings(), False, lambda s: issue_token(s, name, admin=admin))
    if issued.replaced:
        click.echo(f"device {name!r} had a token: it is replaced and stops working now", err=True)
    click.echo(issued.token)
    click.echo(f"token for device {name!r}{' (admin)' if admin else ''}; shown only once", err=True)


@token.command("list")
def token_list() -> None:
    """List devices and whether their tokens are active (tokens themselves are not kept)."""
    from jarvis_server.tokens import list_devices

    devices = _run_db(_settings(), False, list_devices)
    if not devices:
        click.echo(
            "no devices; create one with `jarvis-server token create --device NAME`", err=True
        )
        return
    click.echo(f"{'DEVICE':<32} {'ROLE':<6} {'CREATED':<20} STATUS")
    for d in devices:
        status = f"revoked {d.revoked_at:%Y-%m-%d %H:%M}" if d.revoked_at else "active"
        role = "admin" if d.admin else "device"
        click.echo(f"{d.name:<32} {role:<6} {d.created_at:%Y-%m-%d %H:%M:%S}  {status}")


@token.command("revoke")
@click.argument("name")
def token_revoke(name: str) -> None:
    """Revoke device NAME: its token is refused from now on (403)."""
    from jarvis_server.tokens import revoke_device

    if not _run_db(_settings(), False, lambda s: revoke_device(s, name)):
        raise StartupError(f"no device named {name!r}; see `jarvis-server token list`")
    click.echo(f"device {name!r} revoked", err=True)


@cli.command(hidden=True)
def openapi() -> None:
    """Print the OpenAPI schema (committed as server/openapi.json)."""
    import json

    from jarvis_server.app import create_app
    from jarvis_server.core.config import Settings

    # Default settings: the schema must not depend on this machine's environment.
    schema = create_app(Settings()).openapi()
    click.echo(json.dumps(schema, indent=2, sort_keys=True))


def main() -> None:
    # SIGPIPE stays ignored: with its default action a client that vanished while `serve`
    # wrote to its socket killed the whole server. A closed pipe on a command's output
    # (`jarvis-server token list | head`) ends the command quietly instead.
    try:
        cli(prog_name="jarvis-server")
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit flush
        sys.exit(1)
