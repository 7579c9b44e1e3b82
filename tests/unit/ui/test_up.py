"""`jarvis up`'s token step against a real server and the real keyring."""

from __future__ import annotations

import pytest

from jarvis_sync import credentials
from jarvis_ui.up import UpError, ensure_token
from tests.support.keyring import SecretService
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
