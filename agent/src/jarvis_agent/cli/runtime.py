"""`jarvis` commands: run, status, pause, resume, capture-now, sync-now, doctor."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
from datetime import datetime
from types import FrameType
from typing import TYPE_CHECKING

import click

from jarvis_agent.config import ConfigError, ConfigStore
from jarvis_agent.control import (
    AgentNotRunningError,
    Command,
    ControlClient,
    ControlError,
    ControlReply,
    socket_path,
)
from jarvis_agent.durations import DurationError, format_duration, parse_pause_until
from jarvis_agent.paths import agent_paths
from jarvis_agent.runtime.instance_lock import AlreadyRunningError
from jarvis_agent.runtime.state import AgentState, AgentStatus, status_from_json

if TYPE_CHECKING:
    from jarvis_agent.runtime.service import AgentService

__all__ = ["describe_status", "register"]

EXIT_NOT_RUNNING = 3


def _ask(command: Command, *, until: datetime | None = None, timeout: float = 30) -> ControlReply:
    client = ControlClient(socket_path(agent_paths()), timeout=timeout)
    try:
        return client.request(command, until=until)
    except AgentNotRunningError as exc:
        click.echo(f"Error: {exc}", err=True)
        raise SystemExit(EXIT_NOT_RUNNING) from None
    except ControlError as exc:
        raise click.ClickException(str(exc)) from None


def _finish(reply: ControlReply) -> None:
    if not reply.ok:
        raise click.ClickException(reply.message)
    if reply.message:
        click.echo(reply.message[:1].upper() + reply.message[1:] + ".")


@click.command("run")
@click.option("--headless", is_flag=True, help="Run without the tray (no Qt needed).")
@click.option(
    "--interval",
    type=click.FloatRange(1, 3600),
    help="Seconds between captures for this run (overrides capture.interval_seconds).",
)
@click.option("--verbose", "-v", is_flag=True, help="Also print the log to stderr.")
@click.pass_context
def run_command(ctx: click.Context, headless: bool, interval: float | None, verbose: bool) -> None:
    """Run the agent in the foreground until interrupted (Ctrl+C or SIGTERM)."""
    group = ctx.parent.command if ctx.parent is not None else None
    tray = group.get_command(ctx, "tray") if isinstance(group, click.Group) else None
    if not headless and tray is not None:
        ctx.invoke(tray)
        return
    from jarvis_agent.logs import configure_logging
    from jarvis_agent.runtime.service import AgentService, ServiceError, limit_malloc_arenas

    paths = agent_paths()
    environ: dict[str, str] | None = None
    if interval is not None:
        environ = {**os.environ, "JARVIS_CAPTURE__INTERVAL_SECONDS": str(interval)}
    store = ConfigStore(paths.config_file, environ=environ)
    try:
        config = store.load()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    paths.ensure()
    limit_malloc_arenas()
    configure_logging(paths.agent_log, config.logging, stderr=verbose)
    service = AgentService(store, paths=paths, configure_logs=False)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        del frame
        stop.set()

    try:
        service.start()
    except AlreadyRunningError as exc:
        raise click.ClickException(str(exc)) from None
    except (ConfigError, ServiceError) as exc:
        raise click.ClickException(str(exc)) from None
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, on_signal)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, lambda *_: _reload_quietly(service))
    click.echo(
        f"Jarvis agent running (pid {service.status().pid}), capturing every "
        f"{service.config.capture.interval_seconds:g} s. `jarvis status` shows what it does; "
        "Ctrl+C stops it."
    )
    try:
        while not stop.wait(1.0):
            pass
    finally:
        service.stop()
        click.echo("Jarvis agent stopped.")


def _reload_quietly(service: AgentService) -> None:
    # SIGHUP re-reads the file; an invalid one is logged and the last good config kept.
    with contextlib.suppress(ConfigError):
        service.reload_config()


def _when(value: datetime | None, now: datetime) -> str:
    if value is None:
        return "never"
    local = value.astimezone()
    delta = now - local
    if delta.total_seconds() >= 0:
        return f"{local:%H:%M:%S} ({format_duration(delta)} ago)"
    return f"{local:%H:%M:%S} (in {format_duration(-delta)})"


def describe_status(status: AgentStatus) -> str:
    """`jarvis status` in words."""
    now = datetime.now().astimezone()
    lines = [f"State:      {status.state.value.replace('_', ' ')}"]
    for reason in status.reasons:
        lines.append(f"            {reason}")
    if status.paused_until is not None:
        resumes = status.paused_until.astimezone()
        lines.append(f"Resumes:    {resumes:%Y-%m-%d %H:%M} (in {format_duration(resumes - now)})")
    if status.config_error:
        lines.append(
            f"Config:     NOT reloaded, using the last good settings: {status.config_error}"
        )
    c = status.counters
    lines.append(
        f"Captures:   {c.captured} taken, {c.skipped} skipped, {c.redacted} regions redacted, "
        f"{c.dropped} dropped (since start)"
    )
    lines.append(f"Last:       {_when(status.last_capture_at, now)}")
    if (
        status.next_capture_at is not None
        and status.interval_seconds is not None
        and status.state is AgentState.CAPTURING
    ):
        lines.append(
            f"Next:       {_when(status.next_capture_at, now)}, every {status.interval_seconds:g} s"
        )
    s = status.sync
    lines.append(
        f"Outbox:     {s.queued} queued ({s.queued_bytes / 1024 / 1024:.1f} MiB), "
        f"{s.dead} dead, {s.evicted} evicted"
    )
    server = s.server_url or "none (run `jarvis login --server URL`)"
    lines.append(f"Server:     {server}; sync {s.state.replace('_', ' ')}")
    lines.append(f"Last upload: {_when(s.last_success_at, now)}")
    if s.last_error:
        lines.append(f"Sync error: {s.last_error}")
    if status.pid is not None:
        lines.append(f"Agent pid:  {status.pid}")
    return "\n".join(lines)


@click.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status_command(as_json: bool) -> None:
    """Show what the running agent is doing."""
    reply = _ask("status", timeout=10)
    if not reply.ok or reply.status is None:
        raise click.ClickException(reply.message or "the agent sent no status")
    if as_json:
        click.echo(json.dumps(reply.status, indent=2))
        return
    click.echo(describe_status(status_from_json(reply.status)))


@click.command("pause")
@click.argument("duration", nargs=-1)
def pause_command(duration: tuple[str, ...]) -> None:
    """Stop capturing: for DURATION (15m, 1h, 'until 17:00', 'until tomorrow') or until resumed."""
    text = " ".join(duration) or None
    try:
        until = parse_pause_until(text)
    except DurationError as exc:
        raise click.BadParameter(str(exc), param_hint="DURATION") from None
    _finish(_ask("pause", until=until))


@click.command("resume")
def resume_command() -> None:
    """Start capturing again after a pause."""
    _finish(_ask("resume"))


@click.command("capture-now")
def capture_now_command() -> None:
    """Capture right away (the privacy rules and the pause still apply)."""
    _finish(_ask("capture-now", timeout=90))


@click.command("sync-now")
def sync_now_command() -> None:
    """Upload queued captures now instead of waiting."""
    _finish(_ask("sync-now", timeout=60))


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print the checks as JSON.")
def doctor_command(as_json: bool) -> None:
    """Check the display server, screen capture, keyring, server and disk; say what to fix."""
    from jarvis_agent.doctor import run_checks

    checks = run_checks(agent_paths())
    if as_json:
        click.echo(json.dumps([c.as_json() for c in checks], indent=2))
    else:
        for check in checks:
            click.echo(check.line())
    if any(not c.ok and not c.warning for c in checks):
        raise SystemExit(1)


def register(cli: click.Group) -> None:
    """Add this module's commands to `cli`."""
    for command in (
        run_command,
        status_command,
        pause_command,
        resume_command,
        capture_now_command,
        sync_now_command,
        doctor_command,
    ):
        cli.add_command(command)
