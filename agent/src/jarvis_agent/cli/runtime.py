"""`jarvis` commands: run, status, pause (--toggle), resume, capture-now, sync-now, doctor.

status, pause, resume and friends only talk over the control channel; what only `run` needs (the
config models, the instance lock, the service) is imported in its body, so they start fast.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import signal
import socket
import threading
import time
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import click

from jarvis_agent.cli.negatives import NegativeValuesCommand
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
from jarvis_agent.runtime.state import AgentState, AgentStatus, status_from_json

if TYPE_CHECKING:
    from jarvis_agent.runtime.service import AgentService

__all__ = ["SignalInbox", "describe_status", "register"]

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
    from jarvis_agent.config import ConfigError, ConfigStore
    from jarvis_agent.logs import configure_logging
    from jarvis_agent.runtime.instance_lock import AlreadyRunningError
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
    inbox = SignalInbox()
    try:
        service.start()
    except AlreadyRunningError as exc:
        raise click.ClickException(str(exc)) from None
    except (ConfigError, ServiceError) as exc:
        raise click.ClickException(str(exc)) from None
    # The stop runs inside too: a second Ctrl+C or SIGTERM must not break it halfway.
    with inbox:
        try:
            click.echo(
                f"Jarvis agent running (pid {service.status().pid}), capturing every "
                f"{service.config.capture.interval_seconds:g} s. `jarvis status` shows what it "
                "does; Ctrl+C stops it."
            )
            while inbox.next() == RELOAD:
                _reload_quietly(service)
        finally:
            _exit_if_stuck(paths.agent_log, EXIT_DEADLINE)
            service.stop()
    click.echo("Jarvis agent stopped.")


# Seconds from SIGTERM (or Ctrl+C) to the process's exit, whatever it is doing: service.stop()
# takes at most STOP_TIMEOUT; past this, a watchdog ends the process.
EXIT_DEADLINE = 4.5
EXIT_STUCK = 70  # EX_SOFTWARE: the stop had to be forced (stacks are in the agent's log)
STOP, RELOAD = "stop", "reload"


class SignalInbox:
    """SIGINT/SIGTERM (stop) and SIGHUP (reload) as messages the main thread reads.

    The handlers do nothing themselves: `signal.set_wakeup_fd` has the interpreter write each
    signal's number to a socket, which `next()` reads. A Python handler that takes a lock (the
    agent's used to call Event.set(), which takes the Event's lock) deadlocks when the signal
    lands while the main thread holds that same lock: the main thread's once-a-second wake-up
    held it for a moment, and about one stop in thirty under load never ended.
    """

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)
        self._old_fd = -1
        self._old: dict[int, object] = {}

    def __enter__(self) -> SignalInbox:
        self._old_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for signum in _signals():
            self._old[signum] = signal.signal(signum, _ignore)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._old.items():
            with contextlib.suppress(TypeError, ValueError):
                signal.signal(signum, handler)  # type: ignore[arg-type]
        signal.set_wakeup_fd(self._old_fd)
        self._reader.close()
        self._writer.close()

    def next(self) -> str:
        """Block until a stop or reload signal arrives; say which."""
        while True:
            for signum in self._reader.recv(64):
                if signum in (signal.SIGINT, signal.SIGTERM):
                    return STOP
                if signum == getattr(signal, "SIGHUP", None):
                    return RELOAD


def _signals() -> tuple[int, ...]:
    names = ("SIGINT", "SIGTERM", "SIGHUP")
    return tuple(getattr(signal, name) for name in names if hasattr(signal, name))


def _ignore(signum: int, frame: FrameType | None) -> None:
    """The wake-up socket carries the signal; the handler only keeps the default action away."""
    del signum, frame


def _exit_if_stuck(log_file: Path, seconds: float) -> None:
    """Start a watchdog that ends the process if it has not exited `seconds` from now.

    Every wait in the stop has a deadline, and the agent's threads are daemons; this is the
    backstop for what no deadline covers (a thread stuck in a C call holding a lock the exit
    needs). Whatever the outbox accepted is on disk; the rest was never accepted.
    """

    def watchdog() -> None:
        time.sleep(seconds)
        # Straight to the file, not through logging: a stuck thread may hold a handler's lock.
        with contextlib.suppress(OSError), log_file.open("a", encoding="utf-8") as stacks:
            stacks.write(
                f"{datetime.now().astimezone():%Y-%m-%d %H:%M:%S} ERROR jarvis.runtime: the agent "
                f"did not stop within {seconds:.1f} s; exiting anyway (threads' stacks follow)\n"
            )
            stacks.flush()
            faulthandler.dump_traceback(file=stacks, all_threads=True)
        os._exit(EXIT_STUCK)

    threading.Thread(target=watchdog, name="jarvis-stop-watchdog", daemon=True).start()


def _reload_quietly(service: AgentService) -> None:
    # SIGHUP re-reads the file; an invalid one is logged and the last good config kept.
    from jarvis_agent.config import ConfigError

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
    from jarvis_sync.sizes import format_size

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
        f"Outbox:     {s.queued} queued ({format_size(s.queued_bytes)}), "
        f"{s.dead} dead, {s.evicted} evicted"
    )
    server = s.server_url or "none (run `jarvis up`, or `jarvis login --server URL`)"
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


@click.command("pause", cls=NegativeValuesCommand)
@click.argument("duration", nargs=-1)
@click.option(
    "--toggle",
    is_flag=True,
    help="Resume when paused, pause otherwise (what a hotkey binding runs, e.g. in sway).",
)
def pause_command(duration: tuple[str, ...], toggle: bool) -> None:
    """Stop capturing: for DURATION (15m, 1h, 'until 17:00', 'until tomorrow') or until resumed."""
    text = " ".join(duration) or None
    try:
        until = parse_pause_until(text)
    except DurationError as exc:
        raise click.BadParameter(str(exc), param_hint="DURATION") from None
    if toggle:
        reply = _ask("status", timeout=10)
        if not reply.ok or reply.status is None:
            raise click.ClickException(reply.message or "the agent sent no status")
        if status_from_json(reply.status).paused:
            _finish(_ask("resume"))
            return
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
