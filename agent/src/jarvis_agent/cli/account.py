"""`jarvis` commands: login, logout.

The device token is read from stdin or a hidden prompt, never from the command line (process
arguments are visible to every user on the machine), checked against the server, and only then
stored in the OS keyring; the server address goes to the config file.
"""

from __future__ import annotations

import json
import sys

import click
from pydantic import ValidationError

from jarvis_agent.config import ConfigError, ConfigStore, ServerSettings
from jarvis_agent.control import AgentNotRunningError, ControlClient, ControlError, socket_path
from jarvis_agent.paths import agent_paths
from jarvis_sync import CredentialsError, ServerClient, ServerError, delete_token, store_token
from jarvis_sync.credentials import check_token
from jarvis_sync.trust import insecure_remote

__all__ = ["register"]


def _check_url(url: str, *, allow_insecure_http: bool) -> str:
    # Before any network I/O: an address the rule refuses is never contacted.
    try:
        checked = ServerSettings.model_validate(
            {"url": url, "allow_insecure_http": allow_insecure_http}
        ).url
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise click.BadParameter(f"{url!r}: {reason}", param_hint="'--server'") from None
    assert checked is not None
    return checked


def _read_token() -> str:
    if sys.stdin.isatty():
        token: str = click.prompt("Device token (input hidden)", hide_input=True, err=True)
        return token
    line = sys.stdin.readline()
    if not line.strip():
        raise click.ClickException(
            "no token on standard input; pipe the device token in "
            "(e.g. `jarvis login --server URL < token.txt`) or run in a terminal to be asked"
        )
    return line


def _tell_agent() -> str:
    """Ask a running agent to re-read its config and token; say what happened."""
    try:
        reply = ControlClient(socket_path(agent_paths()), timeout=10).request("reload-config")
    except AgentNotRunningError:
        return "not running; it will use this when it starts"
    except ControlError as exc:
        return f"could not be told ({exc}); restart it to use the new settings"
    return "now uses it" if reply.ok else f"kept its settings: {reply.message}"


@click.command("login")
@click.option(
    "--server",
    "server_url",
    required=True,
    metavar="URL",
    help="Base URL of the Jarvis server, e.g. https://jarvis.example.com",
)
@click.option(
    "--allow-insecure-http",
    is_flag=True,
    help="Accept a plain http:// address of another computer: the token and captures cross "
    "the network unencrypted (saved as server.allow_insecure_http; doctor and the tray warn).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def login(server_url: str, allow_insecure_http: bool, as_json: bool) -> None:
    """Log this device in to a Jarvis server.

    The device token is read from standard input, or asked for without echo in a terminal;
    it is never accepted as an argument. It is checked with the server, then kept in the OS
    keyring; the server address is saved in the config file.
    """
    store = ConfigStore(agent_paths().config_file)
    try:
        allow = allow_insecure_http or store.load().server.allow_insecure_http
    except ConfigError:
        allow = allow_insecure_http
    url = _check_url(server_url, allow_insecure_http=allow)
    try:
        token = check_token(_read_token())
    except CredentialsError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        with ServerClient(url, allow_insecure_http=allow) as server:
            server.check_token(token)
    except ServerError as exc:
        raise click.ClickException(f"login failed: {exc}; nothing was saved") from None
    try:
        store_token(token)
    except CredentialsError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        if allow_insecure_http:  # first: the address below is only valid with it
            store.set_value("server.allow_insecure_http", "true")
        store.set_value("server.url", url)
    except ConfigError as exc:
        raise click.ClickException(
            f"the token is stored, but the server address could not be saved: {exc}"
        ) from None
    agent = _tell_agent()
    if as_json:
        click.echo(
            json.dumps(
                {
                    "logged_in": True,
                    "server_url": url,
                    "insecure_http": insecure_remote(url),
                    "agent": agent,
                }
            )
        )
    else:
        click.echo(f"Logged in to {url}. The token is in the OS keyring.")
        if insecure_remote(url):
            click.echo(
                f"Warning: plain http: the token and captures go to {url} unencrypted "
                "(server.allow_insecure_http is on).",
                err=True,
            )
        click.echo(f"The agent is {agent}.")


@click.command("logout")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def logout(as_json: bool) -> None:
    """Forget the device token; captures stay queued until you log in again."""
    try:
        delete_token()
    except CredentialsError as exc:
        raise click.ClickException(str(exc)) from None
    agent = _tell_agent()
    if as_json:
        click.echo(json.dumps({"logged_in": False, "agent": agent}))
    else:
        click.echo("Logged out: the device token was removed from the OS keyring.")
        click.echo("Captures stay in the outbox until you log in again.")


def register(cli: click.Group) -> None:
    """Add this module's commands to `cli`."""
    cli.add_command(login)
    cli.add_command(logout)
