"""The `jarvis-server` command line.

Anything a script may capture (a new token) goes to stdout alone; everything else to stderr.
Start-up problems end the command with one line naming the setting to fix, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import FrameType
from typing import TypeVar

import click
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from jarvis_contract import MIGRATING_NOTICE
from jarvis_server import __version__
from jarvis_server.core.config import Settings, SettingsError, check_text_languages, get_settings
from jarvis_server.core.db import (
    DatabaseURLError,
    create_engine,
    create_sessionmaker,
    is_sqlite,
    parse_database_url,
    sqlite_path,
)
from jarvis_server.filemodes import (
    PRIVATE_UMASK,
    make_private_dir,
    tighten,
    tighten_stream,
)
from jarvis_server.migrate import SCHEMA_REVISION, current_revision
from jarvis_server.storage import Storage, StorageError

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
            make_private_dir(path.parent)
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


def _migrate(url: URL, current: str | None) -> None:
    from jarvis_server.migrate import upgrade

    if current is not None and current != SCHEMA_REVISION:
        # An upgrade may rebuild an index of every capture: say so before a long silence.
        click.echo(
            f"jarvis-server: {MIGRATING_NOTICE} {_describe(url)} from schema revision "
            f"{current} to {SCHEMA_REVISION}; with many captures this takes minutes (a search "
            "index is rebuilt, ~1.5 minutes per 100,000 captures); do not stop the server",
            err=True,
        )
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
        _migrate(url, current)
        return
    raise StartupError(
        f"{DB_VAR}: the database {_describe(url)} is at schema revision {current or 'none'}, "
        f"this server needs {SCHEMA_REVISION}; run `jarvis-server migrate`"
    )


def _storage_error(exc: StorageError) -> StartupError:
    from jarvis_server.reconcile import StorageRootError

    if isinstance(exc, StorageRootError):
        return StartupError(f"{exc.setting}: {exc}")
    if exc.setting != STORAGE_VAR:  # a bucket: the message already says what to fix
        return StartupError(f"{exc.setting}: {exc}")
    return StartupError(
        f"{STORAGE_VAR}: {exc}; set {STORAGE_VAR} (or JARVIS_HOME) to a writable directory"
    )


def _tighten_server_files(settings: Settings, url: URL) -> list[Path | str]:
    """Make the data dir, the SQLite files and a log file on stderr private; what changed."""
    paths = [settings.data_dir]
    db = sqlite_path(url)
    if db is not None:
        paths += [db.with_name(db.name + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
    fixed: list[Path | str] = list(tighten(p for p in paths if p.exists()))
    for stream, name in ((sys.stderr, "the log on stderr"), (sys.stdout, "stdout")):
        try:
            fd = stream.fileno()
        except (OSError, ValueError):  # not backed by a file descriptor
            continue
        if tighten_stream(fd):
            fixed.append(name)
    return fixed


def _with_storage(
    settings: Settings,
    url: URL,
    work: Callable[[async_sessionmaker[AsyncSession], Storage], Awaitable[T]],
) -> T:
    """Run `work(sessions, storage)` against this server's database and storage."""
    from jarvis_server.storage_open import open_storage

    async def run() -> T:
        engine = create_engine(url)
        store = open_storage(settings)
        try:
            return await work(create_sessionmaker(engine), store)
        finally:
            store.close()
            await engine.dispose()

    return asyncio.run(run())


def _identity_key(settings: Settings) -> bytes | None:
    from jarvis_server.identity import IdentityKeyError, read_identity_key

    if settings.identity_key_file is None:
        return None
    try:
        return read_identity_key(settings.identity_key_file.expanduser())
    except IdentityKeyError as exc:
        raise StartupError(f"JARVIS_IDENTITY_KEY_FILE: {exc}") from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", prog_name="jarvis-server", message="%(prog)s %(version)s"
)
def cli() -> None:
    """Jarvis ingest server."""
    # Everything this process creates (database, -wal/-shm, folders, images) is private.
    os.umask(PRIVATE_UMASK)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--no-migrate", is_flag=True, help="Do not apply migrations at start (default on SQLite)."
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes on this machine (PostgreSQL only; SQLite serves from one).",
)
@click.option("--worker-fd", type=int, default=None, hidden=True)
@click.option("--worker-table", type=int, default=None, hidden=True)
@click.option("--worker-slot", type=int, default=0, hidden=True)
def serve(
    host: str,
    port: int,
    no_migrate: bool,
    workers: int,
    worker_fd: int | None,
    worker_table: int | None,
    worker_slot: int,
) -> None:
    """Serve the ingest API."""
    import uvicorn

    from jarvis_server.app import create_app
    from jarvis_server.connections import guarded_protocol
    from jarvis_server.logs import configure_logging
    from jarvis_server.reconcile import prepare, reconcile, warn_fixed_modes
    from jarvis_server.worker_accept import Tally, accept_evenly
    from jarvis_server.workers import worker_socket

    settings = _settings()
    try:
        check_text_languages(settings)
    except SettingsError as exc:
        raise StartupError(str(exc)) from exc
    identity_key = _identity_key(settings)
    configure_logging(settings.server_log_level, json=settings.server_log_json)
    url = _database_url(settings)
    if workers > 1 and is_sqlite(url):
        raise StartupError(
            f"--workers {workers}: SQLite is served by one process; drop --workers, or set "
            f"{DB_VAR} to a PostgreSQL database (postgresql://USER@HOST/DB) to run several"
        )
    later = False
    if worker_fd is None:  # a worker's parent did all of this once for every worker
        fixed = _tighten_server_files(settings, url)
        _ensure_schema(settings, url, no_migrate=no_migrate)
        # One process reconciles after listening (past reconcile.BACKGROUND_FROM captures,
        # once a sample of files is found in place); several workers' parent does it first.
        try:
            done = _with_storage(settings, url, prepare if workers == 1 else reconcile)
        except StorageError as exc:
            warn_fixed_modes(fixed)
            raise _storage_error(exc) from exc
        warn_fixed_modes([*fixed, *(done.fixed_modes if done else ())])
        later = done is None
    if workers > 1:
        from jarvis_server.workers import listening_socket, run_workers

        try:
            sock = listening_socket(host, port)
        except OSError as exc:
            raise StartupError(
                f"--host/--port: cannot listen on {host}:{port} ({exc.strerror or exc})"
            ) from exc
        sys.exit(run_workers(sock, workers))
    app = create_app(
        settings,
        identity_key=identity_key,
        reconciled=True,
        probed=worker_fd is None,
        reconcile_later=later,
    )

    # A worker accepts on the socket its parent bound, itself (worker_accept), not through
    # uvicorn, which would let the event loop take every waiting connection at once.
    listener: socket.socket | None = None
    tally: Tally | None = None
    if worker_fd is not None:
        listener = worker_socket(worker_fd)
        if worker_table is not None:
            tally = Tally(worker_table, worker_slot)

    class Server(uvicorn.Server):
        accepting: asyncio.Task[None] | None = None

        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets if tally is None else [])
            if listener is not None and tally is not None and self.started:
                self.accepting = asyncio.create_task(
                    accept_evenly(listener, self.new_protocol, tally, self.held)
                )
            app.state.listening.set()  # the reconciliation left for later may begin
            # What is loaded by now (modules, classes, the app and its engine) lives as long as
            # the process: kept out of the collector's sight, a full collection no longer walks
            # it (it paused every request in flight for 77 ms once in ~150 searches; 5 ms now).
            gc.freeze()

        def new_protocol(self) -> asyncio.Protocol:  # as uvicorn's startup makes them
            return self.config.http_protocol_class(  # type: ignore[call-arg]
                config=self.config,
                server_state=self.server_state,
                app_state=self.lifespan.state,
            )

        def held(self) -> int:
            return len(self.server_state.connections)

        def published(self) -> None:
            if tally is not None:
                tally.publish(self.held())

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            if self.accepting is not None:
                self.accepting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self.accepting
            await super().shutdown(sockets)

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # End event streams now: uvicorn waits for open responses before it stops.
            app.state.broadcaster.close()
            super().handle_exit(sig, frame)

    if listener is not None:
        host, port = listener.getsockname()[:2]  # for uvicorn's "running on" line
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http=guarded_protocol(
            header_timeout=settings.request_header_timeout_seconds,
            send_timeout=settings.response_send_timeout_seconds,
            on_lost=lambda: server.published(),
        ),
        access_log=False,
        ws="none",  # no WebSocket route: the websockets package need not be imported
        log_level=settings.server_log_level.lower(),
        timeout_graceful_shutdown=10,
        server_header=False,
        # On every response, uvicorn's own error replies included: no browser may guess that
        # an image or a document is HTML and run it.
        headers=[("X-Content-Type-Options", "nosniff")],
    )
    server = Server(config)

    def stop() -> None:  # a graceful stop, as on SIGTERM; then the refusal below, exit code 1
        app.state.broadcaster.close()
        server.should_exit = True

    app.state.stop = stop
    server.run(sockets=[listener] if listener is not None else None)
    if app.state.refusal is not None:
        raise _storage_error(app.state.refusal)
    if not server.started:
        sys.exit(1)


@cli.command()
def migrate() -> None:
    """Apply database migrations up to the newest schema."""
    settings = _settings()
    url = _database_url(settings)
    current = asyncio.run(_revision(url))  # a clear line when the database does not answer
    _migrate(url, current)
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


@cli.group()
def storage() -> None:
    """Check the storage directory against the database; repair or purge on request."""


def _confirm(question: str, yes: bool) -> None:
    """Go on only with --yes or an interactive yes: these commands change stored captures."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise StartupError(f"{question} Nothing was changed; pass --yes to confirm")
    click.confirm(question, abort=True, err=True)


def _storage_run(
    work: Callable[[async_sessionmaker[AsyncSession], Storage], Awaitable[T]],
) -> T:
    settings = _settings()
    url = _database_url(settings)
    _ensure_schema(settings, url, no_migrate=False)
    try:
        return _with_storage(settings, url, work)
    except StorageError as exc:
        raise _storage_error(exc) from exc


@storage.command("check")
def storage_check() -> None:
    """Report rows without their image file, files without a row and quarantined files;
    change nothing. Exits 1 when `serve` would refuse this storage directory."""
    from jarvis_server.reconcile import refusal_message, survey
    from jarvis_server.storage_plan import CRASH_WINDOW

    async def work(sessions: async_sessionmaker[AsyncSession], store: Storage) -> tuple[str, bool]:
        found = await survey(sessions, store)
        plan = found.plan
        hours = CRASH_WINDOW.total_seconds() / 3600
        lines = [
            f"storage:                  {store.location}"
            + ("" if found.scan.exists else " (does not exist)"),
            f"captures with their file: {plan.present} of {plan.listed}",
            f"captures whose file is gone (not yet marked): {len(plan.mark_missing)}",
            f"captures marked missing:  {plan.still_missing + len(plan.found_again)}"
            f" (file back: {len(plan.found_again) + len(plan.restore)})",
            f"files no capture lists:   {len(plan.quarantine)} older than {hours:g} h"
            f" (moved to quarantine at the next start), {len(plan.recent_orphans)} recent",
            f"quarantined files:        {len(found.scan.quarantined)}"
            f" in {store.quarantine_location}",
        ]
        if plan.refusal is not None:
            lines.append(f"serve would refuse: {refusal_message(plan, store, found.scan)}")
        else:
            lines.append("serve would start")
        return "\n".join(lines), plan.refusal is None

    report, trusted = _storage_run(work)
    click.echo(report)
    if not trusted:
        sys.exit(1)


@storage.command("repair")
@click.option("--yes", is_flag=True, help="Do not ask, even when the directory looks wrong.")
def storage_repair(yes: bool) -> None:
    """Do now what a start does: mark captures whose file is gone as missing, clear the mark of
    those whose file is back, move old files no capture lists to quarantine. Deletes nothing."""
    from jarvis_server.reconcile import reconcile, refusal_message, survey

    async def work(sessions: async_sessionmaker[AsyncSession], store: Storage) -> str:
        found = await survey(sessions, store)
        if found.plan.refusal is not None:
            click.echo(f"warning: {refusal_message(found.plan, store, found.scan)}", err=True)
            _confirm("Repair this storage directory all the same?", yes)
        done = await reconcile(sessions, store, force=True)
        plan = done.plan
        return (
            f"marked missing: {len(plan.mark_missing)}; found again: "
            f"{len(plan.found_again) + len(plan.restore)}; moved to quarantine: "
            f"{len(plan.quarantine)}; nothing deleted"
        )

    click.echo(_storage_run(work), err=True)


@storage.command("purge-missing")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def storage_purge_missing(yes: bool) -> None:
    """Delete the records of captures marked missing whose image file is still gone."""
    from jarvis_server.reconcile import missing_count, purge_missing

    async def work(sessions: async_sessionmaker[AsyncSession], store: Storage) -> int:
        async with sessions() as session:
            marked = await missing_count(session)
        if not marked:
            return 0
        _confirm(f"Delete the records of {marked} captures whose image file is gone?", yes)
        return await purge_missing(sessions, store)

    purged = _storage_run(work)
    click.echo(f"deleted {purged} capture records whose image file was gone", err=True)


@storage.command("purge-quarantine")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def storage_purge_quarantine(yes: bool) -> None:
    """Delete the quarantined files (image files no capture record listed)."""
    from jarvis_server.storage_open import open_storage

    settings = _settings()
    try:
        store = open_storage(settings)
        count = len(asyncio.run(store.scan()).quarantined)
        if count:
            _confirm(f"Delete {count} quarantined files in {store.quarantine_location}?", yes)
        purged = asyncio.run(store.purge_quarantine()) if count else 0
    except StorageError as exc:
        raise _storage_error(exc) from exc
    click.echo(f"deleted {purged} quarantined files", err=True)


@storage.command("migrate-to")
@click.argument("url")
def storage_migrate_to(url: str) -> None:
    """Copy this server's storage directory into the bucket URL (s3://BUCKET/PREFIX, reached
    with the JARVIS_S3_* settings), verifying every object by sha256. Changes nothing here;
    stop the server first, then set JARVIS_STORAGE_URL=URL and start it."""
    from jarvis_server.s3storage import S3Storage
    from jarvis_server.storage import FilesystemStorage
    from jarvis_server.storage_migrate import migrate_to_bucket
    from jarvis_server.storage_open import open_storage

    settings = _settings()
    if not url.startswith("s3://"):
        raise click.BadParameter("give the bucket as s3://BUCKET/PREFIX", param_hint="URL")

    async def work(sessions: async_sessionmaker[AsyncSession], source: Storage) -> str:
        if not isinstance(source, FilesystemStorage):
            raise StartupError(
                f"the storage to copy from is {source.location}, not a directory; unset "
                "JARVIS_STORAGE_URL (or set it to file:///PATH) to copy a directory"
            )
        target = open_storage(settings.model_copy(update={"storage_url": url}))
        assert isinstance(target, S3Storage)
        try:
            await target.probe()
            done = await migrate_to_bucket(sessions, source, target)
        finally:
            target.close()
        for problem in done.problems:
            click.echo(f"not copied: {problem}", err=True)
        if done.problems:
            raise StartupError(
                f"{len(done.problems)} objects could not be copied and verified (above); "
                f"{done.verified} were. Nothing was removed from {source.location}"
            )
        return (
            f"copied {done.copied} objects to {target.location} ({done.already_there} were "
            f"already there); all {done.verified} verified by sha256. Nothing was removed from "
            f"{source.location}. Now set JARVIS_STORAGE_URL={url} and start the server"
        )

    click.echo(_storage_run(work), err=True)


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
