"""`jarvis up`'s server and token steps against a real server and the real keyring."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import numpy as np
import pytest
from alembic import command

from jarvis_server.core.db import parse_database_url
from jarvis_server.migrate import alembic_config
from jarvis_sync import credentials
from jarvis_ui.up import UpError, ensure_server, ensure_token
from tests.support.keyring import SecretService
from tests.support.postgres import free_port
from tests.support.server import LiveServer

pytestmark = pytest.mark.keyring


def test_foreign_server_on_the_port_is_explained(
    secret_service: SecretService, live_server: LiveServer
) -> None:
    """A server with other data answering on the port: `up` says so and stores no token."""
    credentials.delete_token()
    with pytest.raises(UpError, match="another data directory or database"):
        ensure_token(live_server.url, say=lambda _: None)
    assert credentials.load_token() is None


def test_valid_stored_token_is_reused(
    secret_service: SecretService, live_server: LiveServer
) -> None:
    """A token the server accepts is kept: no new token, and `up` says it reuses it."""
    credentials.store_token(live_server.create_token("reuse-test"))
    said: list[str] = []
    try:
        assert ensure_token(live_server.url, say=said.append) is False
        assert said == ["Token: the device token in the keyring is valid; reusing it"]
    finally:
        credentials.delete_token()


def _answers(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).is_success
    except httpx.HTTPError:
        return False


def test_the_tray_is_prepared_while_a_new_server_starts(jarvis_home: Path) -> None:
    """`up` starts the local server first and imports the tray while it boots (the two overlap
    on two cores): `meanwhile` runs after "starting" was said and before "started"; then the
    server answers and stops with `up`."""
    port = free_port()
    said: list[str] = []
    seen: list[list[str]] = []
    server = ensure_server(port, said.append, meanwhile=lambda: seen.append(list(said)))
    try:
        assert [[line.split(";")[0] for line in lines] for lines in seen] == [
            [f"Server: starting a local Jarvis server at http://127.0.0.1:{port}"]
        ]
        assert said[-1].startswith("Server: started a local Jarvis server")
        assert _answers(port)
    finally:
        server.stop()
    assert not _answers(port)


def test_a_failure_while_the_server_starts_leaves_no_server_behind(jarvis_home: Path) -> None:
    """If preparing the tray fails (e.g. Qt cannot load) while the new server starts, the error
    reaches the user and the server `up` started is stopped: nothing is left on the port."""
    port = free_port()

    def broken() -> None:
        raise ImportError("libEGL.so.1: cannot open shared object file")

    with pytest.raises(ImportError, match="libEGL"):
        ensure_server(port, lambda _: None, meanwhile=broken)
    assert not _answers(port)  # stopped (and waited for) before the error was raised


def _archive_at_0008(home: Path, captures: int) -> None:
    """A server database left by the release before migration 0009: `captures` captures with
    200 words of text each (their rows say the image files are gone: start-up then accepts the
    empty storage directory). The text is stored with the index trigger off, which only makes
    the fill fast: 0009 rebuilds the index from the text whatever it held."""
    path = home / "server" / "jarvis.db"
    path.parent.mkdir(mode=0o700)
    command.upgrade(alembic_config(parse_database_url(f"sqlite:///{path}")), "0008_phrasepairs")
    rng = np.random.default_rng(3)
    drawn = rng.integers(0, 5000, size=(captures, 200)).tolist()
    at = "2026-01-01 00:00:00.000000"
    db = sqlite3.connect(path)
    trigger = db.execute("SELECT sql FROM sqlite_master WHERE name = 'capture_text_ai'").fetchone()
    db.execute("DROP TRIGGER capture_text_ai")
    db.execute(
        "INSERT INTO devices (name, token_hash, admin, created_at) VALUES ('old', ?, 0, ?)",
        ("0" * 64, at),
    )
    db.executemany(
        "INSERT INTO captures (id, device_id, captured_at, received_at, monitor, width, height,"
        " mime_type, byte_size, sha256, redacted_regions, agent_version, storage_key,"
        " file_missing_since) VALUES (?, 1, ?, ?, 0, 1, 1, 'image/webp', 4, ?, 0, 'old', ?, ?)",
        [
            (f"00000000-0000-7000-8000-{i:012d}", at, at, "0" * 64, f"k/{i}", at)
            for i in range(captures)
        ],
    )
    db.executemany(
        "INSERT INTO capture_text (capture_pk, text, boxes, extracted_at, sort_key) "
        "VALUES (?, ?, '[]', ?, ?)",
        [(i + 1, " ".join(f"w{j}" for j in words), at, i + 1) for i, words in enumerate(drawn)],
    )
    db.execute(trigger[0])
    db.commit()
    db.close()


def test_an_update_that_migrates_for_long_is_waited_for_and_said(
    jarvis_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an update whose migration outlasts the usual start time (cut here to 5 s; 40,000
    captures' search index to rebuild), `up` says the server is upgrading its database and
    waits for it, instead of giving up and stopping it mid-migration; the server then answers
    with the new schema. (Before: "did not answer within 5 s" and the server stopped.)"""
    _archive_at_0008(jarvis_home, 40_000)
    monkeypatch.setattr("jarvis_ui.up.SERVER_START_SECONDS", 5.0)
    port = free_port()
    said: list[str] = []
    server = ensure_server(port, said.append)
    try:
        assert any(
            line.startswith("Server: upgrading its database after an update") for line in said
        )
        assert said[-1].startswith("Server: started a local Jarvis server")
        assert _answers(port)
    finally:
        server.stop()
    db = sqlite3.connect(jarvis_home / "server" / "jarvis.db")
    assert db.execute("SELECT version_num FROM alembic_version").fetchone() == ("0009_prefixes",)
    assert (
        db.execute("SELECT count(*) FROM capture_fts WHERE capture_fts MATCH 'w1*'").fetchone()[0]
        > 0
    )
