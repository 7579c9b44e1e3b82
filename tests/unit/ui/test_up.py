"""`jarvis up`'s server and token steps against a real server and the real keyring."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

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
