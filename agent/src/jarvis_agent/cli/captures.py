"""`jarvis captures delete`: remove this device's captures from the server.

It speaks to the server's API with the device token from the keyring, as the sync worker does,
so a device deletes only its own captures (the server enforces it). Captures still waiting in
the local outbox are not touched: `jarvis outbox purge` is for those.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from uuid import UUID

import click

from jarvis_agent.config import ConfigError, ConfigStore
from jarvis_agent.paths import agent_paths
from jarvis_sync import CredentialsError, ServerClient, ServerError, load_token

__all__ = ["register"]

_WHEN_HELP = "A date and time, e.g. 2026-11-29T09:00 (local time unless it has an offset)."


def _when(value: str, param: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date and time; write it as 2026-11-29T09:00 or "
            "2026-11-29T09:00+01:00",
            param_hint=param,
        ) from None
    return when if when.tzinfo is not None else when.astimezone()  # the local zone


def _identity_key() -> bytes | None:
    from jarvis_sync.trust import load_identity_key

    path = agent_paths().server_identity_key
    if not path.exists():
        return None
    try:
        return load_identity_key(path)
    except CredentialsError:
        return None  # a local server that cannot prove itself is refused by the trust rule


def _server() -> tuple[ServerClient, str]:
    try:
        config = ConfigStore(agent_paths().config_file).load()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if config.server.url is None:
        raise click.ClickException(
            "no server configured; log in first with `jarvis login --server URL`"
        )
    try:
        token = load_token()
    except CredentialsError as exc:
        raise click.ClickException(str(exc)) from None
    if token is None:
        raise click.ClickException("not logged in; run `jarvis login --server URL` first")
    client = ServerClient(
        config.server.url,
        timeout=config.server.timeout_seconds,
        connect_timeout=config.server.connect_timeout_seconds,
        allow_insecure_http=config.server.allow_insecure_http,
        identity_key=_identity_key(),
    )
    return client, token


@click.group("captures")
def captures() -> None:
    """This device's captures on the server."""


@captures.command("delete")
@click.argument("capture_id", required=False, type=click.UUID)
@click.option(
    "--from", "since", metavar="WHEN", help=f"Start of the range (included). {_WHEN_HELP}"
)
@click.option("--to", "until", metavar="WHEN", help=f"End of the range (excluded). {_WHEN_HELP}")
@click.option("--yes", "-y", is_flag=True, help="Delete a range without asking first.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def delete(
    capture_id: UUID | None, since: str | None, until: str | None, yes: bool, as_json: bool
) -> None:
    """Delete one capture (CAPTURE_ID) or every capture taken from --from to --to.

    The server removes the image, its record and its extracted text for good. Only this
    device's captures can be deleted.
    """
    if (capture_id is None) == (since is None and until is None):
        raise click.UsageError("give either a CAPTURE_ID or both --from and --to")
    if capture_id is None and (since is None or until is None):
        raise click.UsageError("a range needs both --from and --to")
    start = _when(since, "'--from'") if since is not None else None
    end = _when(until, "'--to'") if until is not None else None
    if start is not None and end is not None:
        if start >= end:
            raise click.BadParameter("must be later than --from", param_hint="'--to'")
        if not yes:
            if not sys.stdin.isatty():
                raise click.ClickException(
                    "deleting a range asks first; run in a terminal, or add --yes to confirm"
                )
            click.confirm(
                f"Delete every capture this device took from {start.isoformat()} to "
                f"{end.isoformat()} from the server, for good?",
                abort=True,
                err=True,
            )
    client, token = _server()
    try:
        with client:
            if capture_id is not None:
                deleted = client.delete_capture(token, capture_id)
            else:
                assert start is not None
                assert end is not None
                deleted = client.delete_captures(token, start, end)
    except ServerError as exc:
        raise click.ClickException(f"nothing deleted: {exc}") from None
    if as_json:
        click.echo(json.dumps({"deleted": deleted}))
    elif capture_id is not None:
        click.echo(
            f"Deleted capture {capture_id} from the server."
            if deleted
            else f"The server holds no capture {capture_id} of this device (already deleted?)."
        )
    else:
        click.echo(f"Deleted {deleted} capture{'' if deleted == 1 else 's'} from the server.")


def register(cli: click.Group) -> None:
    """Add this module's commands to `cli`."""
    cli.add_command(captures)
