"""The `jarvis-server` command line: tokens, migrations, and failing fast with one clear line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from jarvis_server import __version__
from tests.support.postgres import PostgresCluster, free_port
from tests.support.server import LiveServer, make_server

TOKEN_RE = re.compile(r"^jv_[A-Za-z0-9_-]{43}$")


@pytest.fixture
def cli_server(tmp_path: Path) -> LiveServer:
    """A server home that is not started: the CLI works on its data directly."""
    return make_server(tmp_path / "server-home")


def _serve_fails(server: LiveServer) -> str:
    """Run `serve` expecting it to stop at start; its whole stderr."""
    done = subprocess.run(
        [sys.executable, "-m", "jarvis_server", "serve", "--port", str(server.port)],
        env=server.env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    return done.stderr


def assert_one_clear_line(stderr: str, setting: str) -> None:
    """Exactly one line, naming the setting, without a traceback."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert setting in lines[0]
    assert "Traceback" not in stderr


def test_version(cli_server: LiveServer) -> None:
    """`jarvis-server --version` prints the package version."""
    done = cli_server.cli("--version")
    assert done.stdout.strip() == f"jarvis-server {__version__}"


def test_token_create_prints_the_token_alone_on_stdout(cli_server: LiveServer) -> None:
    """`token create` prints only the token on stdout (so $(...) captures it), says the rest on
    stderr, and the database keeps a hash, never the token itself."""
    done = cli_server.cli("token", "create", "--device", "laptop")
    assert TOKEN_RE.match(done.stdout.rstrip("\n"))
    assert done.stdout.count("\n") == 1
    token = done.stdout.strip()
    assert "laptop" in done.stderr
    assert token not in done.stderr
    database = b"".join(p.read_bytes() for p in (cli_server.home / "server").glob("jarvis.db*"))
    assert b"laptop" in database
    assert token.encode() not in database


def test_token_list_and_revoke(cli_server: LiveServer) -> None:
    """`token list` shows devices, roles and status without tokens; `token revoke` marks one
    revoked; revoking an unknown device fails with one line."""
    laptop = cli_server.create_token("laptop")
    cli_server.create_token("ops", admin=True)
    cli_server.revoke("laptop")
    listing = cli_server.cli("token", "list").stdout
    rows = {line.split()[0]: line for line in listing.splitlines()[1:]}
    assert set(rows) == {"laptop", "ops"}
    assert "revoked" in rows["laptop"]
    assert "admin" in rows["ops"]
    assert "active" in rows["ops"]
    assert laptop not in listing
    done = cli_server.cli("token", "revoke", "nobody", check=False)
    assert done.returncode == 1
    assert_one_clear_line(done.stderr, "nobody")


def test_token_create_again_replaces_the_token(cli_server: LiveServer) -> None:
    """A second `token create` for a device issues a new token and says the old one stopped."""
    first = cli_server.create_token("laptop")
    done = cli_server.cli("token", "create", "--device", "laptop")
    assert done.stdout.strip() != first
    assert "replaced" in done.stderr


@pytest.mark.parametrize("url", ["not a url", "mysql://db/x", "sqlite://"])
def test_serve_with_a_bad_database_url_fails_with_one_line(tmp_path: Path, url: str) -> None:
    """A malformed, unsupported or in-memory database URL stops `serve` with one line naming
    JARVIS_DATABASE_URL."""
    server = make_server(tmp_path / "home", env={"JARVIS_DATABASE_URL": url})
    assert_one_clear_line(_serve_fails(server), "JARVIS_DATABASE_URL")


def test_serve_with_an_unreachable_database_fails_with_one_line(tmp_path: Path) -> None:
    """Nothing listening at the PostgreSQL URL: one line naming JARVIS_DATABASE_URL, without
    the password."""
    url = f"postgresql://jarvis:hunter2@127.0.0.1:{free_port()}/jarvis"
    server = make_server(tmp_path / "home", env={"JARVIS_DATABASE_URL": url})
    stderr = _serve_fails(server)
    assert_one_clear_line(stderr, "JARVIS_DATABASE_URL")
    assert "hunter2" not in stderr
    assert "cannot connect" in stderr


def test_serve_with_an_unwritable_storage_dir_fails_with_one_line(tmp_path: Path) -> None:
    """A storage directory that cannot be created (its parent is a file) stops `serve` with one
    line naming JARVIS_STORAGE_DIR."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    server = make_server(tmp_path / "home", env={"JARVIS_STORAGE_DIR": str(blocker / "storage")})
    assert_one_clear_line(_serve_fails(server), "JARVIS_STORAGE_DIR")


def test_serve_with_a_bad_setting_value_fails_with_one_line(tmp_path: Path) -> None:
    """A setting that does not parse is named in one line; unknown JARVIS_* variables (the
    agent's) are ignored."""
    server = make_server(
        tmp_path / "home",
        env={"JARVIS_MAX_UPLOAD_BYTES": "lots", "JARVIS_CAPTURE_INTERVAL": "whatever"},
    )
    assert_one_clear_line(_serve_fails(server), "JARVIS_MAX_UPLOAD_BYTES")


def test_postgres_needs_migrate_before_serve(
    tmp_path: Path, postgres_cluster: PostgresCluster
) -> None:
    """On PostgreSQL `serve` does not migrate by itself: it says to run `jarvis-server migrate`;
    after `migrate` it starts."""
    name = postgres_cluster.create_database()
    try:
        env = {"JARVIS_DATABASE_URL": postgres_cluster.url(name)}
        server = make_server(tmp_path / "home", env=env)
        stderr = _serve_fails(server)
        assert_one_clear_line(stderr, "JARVIS_DATABASE_URL")
        assert "jarvis-server migrate" in stderr
        server.migrate()
        server.start()
        try:
            token = server.create_token("laptop")
            with server.client(token) as client:
                assert client.get("/api/v1/captures").json() == {"items": [], "next_cursor": None}
        finally:
            server.stop()
    finally:
        postgres_cluster.drop_database(name)
