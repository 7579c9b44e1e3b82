"""`jarvis` commands: outbox status|list|retry-dead|purge.

These open the outbox directly (with its key from the keyring). Next to a running agent they
only read and edit rows; the agent keeps ownership of recovery and sending.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import click

from jarvis_agent.config import ConfigError, ConfigStore
from jarvis_agent.control import AgentNotRunningError, ControlClient, ControlError, socket_path
from jarvis_agent.paths import agent_paths
from jarvis_sync import CredentialsError, Outbox, OutboxEntry, OutboxError, outbox_key
from jarvis_sync.sizes import format_size

__all__ = ["register"]


def _open() -> Outbox:
    try:
        config = ConfigStore(agent_paths().config_file).load()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        key = outbox_key()
    except CredentialsError as exc:
        raise click.ClickException(f"cannot read the outbox key: {exc}") from None
    max_age = timedelta(days=config.outbox.max_age_days) if config.outbox.max_age_days else None
    try:
        return Outbox.open(
            agent_paths().outbox_dir,
            key=key,
            max_bytes=config.outbox.max_bytes,
            max_age=max_age,
            when_full=config.outbox.when_full,
        )
    except OutboxError as exc:
        raise click.ClickException(str(exc)) from None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _nudge_agent() -> None:
    """Ask a running agent to try sending now; silent when none runs."""
    try:
        ControlClient(socket_path(agent_paths()), timeout=10).request("sync-now")
    except AgentNotRunningError:
        return
    except ControlError as exc:
        click.echo(f"(the running agent could not be asked to send now: {exc})", err=True)


@click.group("outbox")
def outbox_group() -> None:
    """Inspect and manage captures waiting to be uploaded."""


@outbox_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def outbox_status(as_json: bool) -> None:
    """Counts and sizes of the outbox."""
    with _open() as outbox:
        stats = outbox.stats()
    data = {
        "pending": stats.pending,
        "in_flight": stats.in_flight,
        "dead": stats.dead,
        "queued_bytes": stats.queued_bytes,
        "total_bytes": stats.total_bytes,
        "max_bytes": stats.max_bytes,
        "evicted_total": stats.evicted_total,
        "quarantined_total": stats.quarantined_total,
        "sent_total": stats.sent_total,
        "dead_total": stats.dead_total,
        "oldest_captured_at": _iso(stats.oldest_captured_at),
    }
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"Waiting to upload: {stats.queued} ({format_size(stats.queued_bytes)})")
    click.echo(f"Dead letters:      {stats.dead}  (see `jarvis outbox list --state dead`)")
    click.echo(
        f"Disk used:         {format_size(stats.total_bytes)} of {format_size(stats.max_bytes)}"
    )
    click.echo(f"Sent so far:       {stats.sent_total}")
    click.echo(f"Evicted (full):    {stats.evicted_total}")
    click.echo(f"Quarantined:       {stats.quarantined_total}")
    if stats.oldest_captured_at is not None:
        click.echo(f"Oldest waiting:    {stats.oldest_captured_at:%Y-%m-%d %H:%M:%S %Z}")


def _entry_json(entry: OutboxEntry) -> dict[str, Any]:
    meta = entry.metadata
    return {
        "id": str(entry.id),
        "state": entry.state,
        "captured_at": meta.captured_at.isoformat(),
        "app_name": meta.app_name,
        "window_title": meta.window_title,
        "mime_type": meta.mime_type,
        "byte_size": meta.byte_size,
        "attempts": entry.attempts,
        "next_attempt_at": _iso(entry.next_attempt_at),
        "last_error": entry.last_error,
    }


@outbox_group.command("list")
@click.option(
    "--state",
    type=click.Choice(["pending", "in_flight", "dead"]),
    default=None,
    help="Only captures in this state.",
)
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def outbox_list(state: str | None, limit: int, as_json: bool) -> None:
    """Captures waiting in the outbox, oldest first."""
    with _open() as outbox:
        entries = outbox.entries(state=state, limit=limit)  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps([_entry_json(e) for e in entries], indent=2))
        return
    if not entries:
        click.echo("The outbox is empty." if state is None else f"No {state} captures.")
        return
    for entry in entries:
        meta = entry.metadata
        line = (
            f"{entry.id}  {entry.state:<9}  {meta.captured_at:%Y-%m-%d %H:%M:%S}  "
            f"{format_size(meta.byte_size):>10}  {meta.app_name or '-'}"
        )
        if entry.attempts:
            line += f"  attempts={entry.attempts}"
        click.echo(line)
        if entry.last_error:
            click.echo(f"    last error: {entry.last_error}")


@outbox_group.command("retry-dead")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def outbox_retry_dead(as_json: bool) -> None:
    """Queue every dead letter for upload again."""
    with _open() as outbox:
        count = outbox.retry_dead()
    if count:
        _nudge_agent()
    if as_json:
        click.echo(json.dumps({"requeued": count}))
    else:
        click.echo(f"Queued {count} dead letters again." if count else "There are no dead letters.")


@outbox_group.command("purge")
@click.option("--dead-only", is_flag=True, help="Delete only dead letters.")
@click.option("--history", is_flag=True, help="Also forget the list of recently sent captures.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def outbox_purge(dead_only: bool, history: bool, yes: bool, as_json: bool) -> None:
    """Delete unsent captures for good (they will never be uploaded)."""
    with _open() as outbox:
        stats = outbox.stats()
        doomed = stats.dead if dead_only else stats.pending + stats.dead
        if doomed == 0 and not history:
            # Nothing to lose, so nothing to confirm.
            if as_json:
                click.echo(json.dumps({"purged": 0, "history_cleared": False}))
            else:
                click.echo(
                    "There are no dead letters to delete."
                    if dead_only
                    else "There is nothing to delete: no capture is waiting in the outbox."
                )
            return
        if not yes:
            what = "dead letters" if dead_only else "unsent captures (pending and dead)"
            click.confirm(
                f"Delete {doomed} {what}? They will never be uploaded.", abort=True, err=True
            )
        count = outbox.purge(dead_only=dead_only, history=history)
    if as_json:
        click.echo(json.dumps({"purged": count, "history_cleared": history}))
    else:
        click.echo(f"Deleted {count} captures from the outbox.")


def register(cli: click.Group) -> None:
    """Add this module's commands to `cli`."""
    cli.add_command(outbox_group)
