"""`jarvis search WORDS`: find this device's captures on the server by the words they show.

Hits print newest first (local time, app, window title, the snippet with the matched words
marked); `--open N` fetches the Nth hit's image and opens it in the desktop's viewer, or says
where it saved it (a 0600 file) when there is none.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from jarvis_agent.config import AgentConfig, ConfigError, ConfigStore
from jarvis_agent.paths import agent_paths
from jarvis_contract import EXTENSIONS, SearchHit, SearchPage
from jarvis_sync import CredentialsError, ServerClient, ServerError, load_token

__all__ = ["mark", "register"]

_VIEWERS = ("xdg-open", "open")


def mark(snippet: str, marks: list[tuple[int, int]], *, color: bool) -> str:
    """The snippet with each [start, end) span marked: bold on a terminal, [[...]] elsewhere."""
    out: list[str] = []
    at = 0
    for start, end in sorted(marks):
        if start < at or end > len(snippet) or start >= end:
            continue  # overlapping or out of range: shown unmarked rather than garbled
        out.append(snippet[at:start])
        word = snippet[start:end]
        out.append(click.style(word, bold=True, underline=True) if color else f"[[{word}]]")
        at = end
    out.append(snippet[at:])
    return "".join(out).replace("\n", " ")


def _client(config: AgentConfig) -> tuple[ServerClient, str]:
    url = config.server.url
    if url is None:
        raise click.ClickException(
            "no server configured; run `jarvis up` or `jarvis login --server URL` first"
        )
    try:
        token = load_token()
    except CredentialsError as exc:
        raise click.ClickException(str(exc)) from None
    if token is None:
        raise click.ClickException("not logged in; run `jarvis login --server URL` first")
    identity_key = None
    key_path = agent_paths().server_identity_key
    if key_path.exists():
        from jarvis_sync.trust import load_identity_key

        try:
            identity_key = load_identity_key(key_path)
        except CredentialsError:
            identity_key = None
    client = ServerClient(
        url,
        timeout=config.server.timeout_seconds,
        connect_timeout=config.server.connect_timeout_seconds,
        allow_insecure_http=config.server.allow_insecure_http,
        identity_key=identity_key,
    )
    return client, token


def _line(n: int, hit: SearchHit, *, color: bool) -> str:
    record = hit.capture
    when = record.captured_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    app = record.app_name or "?"
    title = f" — {record.window_title}" if record.window_title else ""
    snippet = mark(hit.snippet, hit.snippet_marks, color=color)
    return f"{n:>3}  {when}  {app}{title}\n     {snippet}"


def _save(data: bytes, hit: SearchHit) -> Path:
    suffix = "." + EXTENSIONS[hit.capture.mime_type]
    fd, name = tempfile.mkstemp(prefix=f"jarvis-{hit.capture.id}-", suffix=suffix)
    # mkstemp makes the file 0600: the capture is as private here as in the outbox.
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return Path(name)


def _view(path: Path) -> bool:
    viewer = next((v for v in _VIEWERS if shutil.which(v)), None)
    if viewer is None or not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    subprocess.Popen([viewer, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return True


@click.command("search")
@click.argument("words", nargs=-1, required=True)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100))
@click.option(
    "--open",
    "open_n",
    type=click.IntRange(1),
    metavar="N",
    help="Fetch the image of hit N (as numbered in the list) and open it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the server's page as JSON.")
def search(words: tuple[str, ...], limit: int, open_n: int | None, as_json: bool) -> None:
    """Find captures of this device by the words they show.

    WORDS are all required; "quoted phrases", prefixes (invo*) and app:NAME work as on the
    server's search.
    """
    try:
        config = ConfigStore(agent_paths().config_file).load()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    query = " ".join(words)
    client, token = _client(config)
    with client:
        try:
            page: SearchPage = client.search(token, query, limit=limit)
        except ServerError as exc:
            raise click.ClickException(f"search failed: {exc}") from None
        if open_n is not None:
            if open_n > len(page.items):
                raise click.ClickException(
                    f"--open {open_n}: there are only {len(page.items)} hits"
                )
            hit = page.items[open_n - 1]
            try:
                data = client.capture_image(token, str(hit.capture.id))
            except ServerError as exc:
                raise click.ClickException(f"could not fetch the image: {exc}") from None
    if as_json:
        click.echo(page.model_dump_json())
        return
    if not page.items:
        click.echo(f"No captures match {json.dumps(query, ensure_ascii=False)}.")
        return
    color = sys.stdout.isatty()
    for n, item in enumerate(page.items, 1):
        click.echo(_line(n, item, color=color))
    if page.next_cursor is not None:
        click.echo(f"(more than {limit} hits; narrow the words or raise --limit)")
    if open_n is not None:
        path = _save(data, page.items[open_n - 1])
        if _view(path):
            click.echo(f"Opened hit {open_n} ({path}).")
        else:
            click.echo(
                f"No image viewer here; hit {open_n} saved to {path} (readable by you only)."
            )


def register(group: click.Group) -> None:
    group.add_command(search)
