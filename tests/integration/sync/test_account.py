"""`jarvis login` / `logout` and the device token in the real Secret Service keyring."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
from pathlib import Path

import keyring
import pytest

from jarvis_agent.paths import agent_paths
from jarvis_sync import Outbox, load_token, store_token
from jarvis_sync.cipher import new_key
from tests.support.keyring import SecretService
from tests.support.server import LiveServer
from tests.unit.sync.factory import capture

from .cli import JARVIS, jarvis
from .conftest import WorkerFactory, wait_until

pytestmark = pytest.mark.keyring


@pytest.fixture(autouse=True)
def clean_keyring(secret_service: SecretService) -> None:
    """Each test starts logged out."""
    for entry in ("device-token", "outbox-key"):
        if keyring.get_password("jarvis", entry) is not None:
            keyring.delete_password("jarvis", entry)


def config_text() -> str:
    path = agent_paths().config_file
    return path.read_text() if path.exists() else ""


def test_login_checks_the_token_then_keeps_it_in_the_keyring(
    sync_server: LiveServer, device: str
) -> None:
    """A good token piped to `jarvis login` goes to the keyring; only the URL goes to config."""
    token = sync_server.create_token(device)
    done = jarvis("login", "--server", sync_server.url, stdin=token + "\n")
    assert done.returncode == 0, done.stderr
    assert f"Logged in to {sync_server.url}" in done.stdout
    assert load_token() == token
    assert sync_server.url in config_text()
    assert token not in config_text()
    assert token not in done.stdout + done.stderr


def test_login_json_output(sync_server: LiveServer, device: str) -> None:
    """`jarvis login --json` prints a JSON result a script can read."""
    token = sync_server.create_token(device)
    done = jarvis("login", "--server", sync_server.url, "--json", stdin=token)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["server_url"] == sync_server.url


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("not-a-real-token", "the server refused the token"),
        ("", "no token on standard input"),
        ("two words", "spaces or control characters"),
    ],
)
def test_bad_token_is_refused_and_nothing_is_saved(
    sync_server: LiveServer, token: str, message: str
) -> None:
    """A wrong, empty or malformed token is refused with a clear message; nothing is stored."""
    done = jarvis("login", "--server", sync_server.url, stdin=token + "\n")
    assert done.returncode == 1
    assert message in done.stderr
    assert load_token() is None
    assert "server" not in config_text()


def test_revoked_token_is_refused_with_advice(sync_server: LiveServer, device: str) -> None:
    """A revoked device's token is refused, and the message says to get a new one."""
    token = sync_server.create_token(device)
    sync_server.revoke(device)
    done = jarvis("login", "--server", sync_server.url, stdin=token)
    assert done.returncode == 1
    assert "new device token" in done.stderr
    assert load_token() is None


def test_unreachable_server_is_reported(tmp_path: Path) -> None:
    """Logging in to an address where nothing listens says so and saves nothing."""
    done = jarvis("login", "--server", "http://127.0.0.1:9", stdin="sometoken")
    assert done.returncode == 1
    assert "cannot connect to the server" in done.stderr
    assert load_token() is None


def test_token_is_never_taken_as_an_argument(sync_server: LiveServer, device: str) -> None:
    """A token given on the command line is rejected (process arguments are visible to all)."""
    token = sync_server.create_token(device)
    done = jarvis("login", "--server", sync_server.url, token)
    assert done.returncode == 2
    assert "unexpected extra argument" in done.stderr
    assert load_token() is None


def test_logout_forgets_the_token(sync_server: LiveServer, device: str) -> None:
    """`jarvis logout` removes the token; a second logout is harmless."""
    store_token(sync_server.create_token(device))
    assert jarvis("logout").returncode == 0
    assert load_token() is None
    done = jarvis("logout", "--json")
    assert done.returncode == 0
    assert json.loads(done.stdout)["logged_in"] is False


def test_no_keyring_names_the_fix_and_plaintext_is_opt_in(
    sync_server: LiveServer, device: str, tmp_path: Path
) -> None:
    """Without a keyring the error names the fix; the 0600 secrets file works only when chosen."""
    token = sync_server.create_token(device)
    no_bus = {"DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent"}
    done = jarvis("login", "--server", sync_server.url, stdin=token, env=no_bus)
    assert done.returncode == 1
    assert "no working OS keyring" in done.stderr
    assert "JARVIS_SECRETS_FILE" in done.stderr
    assert token not in done.stderr
    secrets = tmp_path / "secrets.json"
    done = jarvis(
        "login",
        "--server",
        sync_server.url,
        stdin=token,
        env={**no_bus, "JARVIS_SECRETS_FILE": str(secrets)},
    )
    assert done.returncode == 0, done.stderr
    assert secrets.stat().st_mode & 0o777 == 0o600
    assert load_token() is None  # the keyring was not touched


def test_401_then_new_token_resumes(
    sync_server: LiveServer, device: str, tmp_path: Path, worker_factory: WorkerFactory
) -> None:
    """A revoked token stops sending (auth required, all kept); a new token resumes it."""
    store_token(sync_server.create_token(device))
    outbox = Outbox.open(tmp_path / "outbox", key=new_key())
    try:
        first = capture()
        outbox.put(*first)
        worker = worker_factory(outbox, sync_server.url, load_token)
        wait_until(lambda: outbox.stats().sent_total == 1, "first capture sent")
        sync_server.revoke(device)
        captures = [capture() for _ in range(3)]
        for metadata, data in captures:
            outbox.put(metadata, data)
        worker.notify()
        wait_until(lambda: worker.status().state == "auth_required", "auth required")
        status = worker.status()
        assert status.queued == 3
        assert "jarvis login" in (status.last_error or "")
        done = jarvis("login", "--server", sync_server.url, stdin=sync_server.create_token(device))
        assert done.returncode == 0, done.stderr
        worker.notify()
        wait_until(lambda: outbox.stats().sent_total == 4, "the rest sent with the new token")
        ids = {r.id for r in sync_server.captures() if r.device == device}
        assert ids == {first[0].id} | {m.id for m, _ in captures}
        assert worker.status().state == "idle"
    finally:
        outbox.close()
    assert os.environ.get("JARVIS_SECRETS_FILE") is None


def test_login_in_a_terminal_asks_without_echo(sync_server: LiveServer, device: str) -> None:
    """In a terminal, `jarvis login` prompts for the token and does not echo what is typed."""
    token = sync_server.create_token(device)
    primary, secondary = pty.openpty()
    child = subprocess.Popen(
        [str(JARVIS), "login", "--server", sync_server.url],
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=os.environ.copy(),
    )
    os.close(secondary)
    seen = b""
    try:
        while b"Device token" not in seen:
            seen += os.read(primary, 1024)
        os.write(primary, token.encode() + b"\r")
        while child.poll() is None or select.select([primary], [], [], 0.1)[0]:
            try:
                chunk = os.read(primary, 1024)
            except OSError:
                break  # the terminal closed with the child
            if not chunk:
                break
            seen += chunk
    finally:
        child.wait()
        os.close(primary)
    assert child.returncode == 0, seen
    assert b"Logged in to" in seen
    assert token.encode() not in seen
    assert load_token() == token
