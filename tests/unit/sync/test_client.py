"""`ServerClient` against the real server over loopback, and against strangers it must refuse.

A stranger (tests/support/stranger.py) answers 200 to everything and records each request's path
and whether it carried a token: what it records is what an attacker would have.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from jarvis_contract import CAPTURES_PATH, HEALTH_PATH, IDENTITY_PATH
from jarvis_sync import (
    ServerClient,
    ServerUnreachableError,
    TokenRefusedError,
    UnexpectedReplyError,
    UntrustedServerError,
)
from tests.support.postgres import free_port
from tests.support.server import LiveServer, ServerFactory
from tests.support.stranger import SPARE_UID, Stranger, start_stranger
from tests.unit.sync.factory import capture


@pytest.fixture
def strangers() -> Iterator[Callable[..., Stranger]]:
    """`strangers(uid=None)`: a recording stranger on a free loopback port; stopped afterwards."""
    made: list[Stranger] = []

    def start(*, uid: int | None = None) -> Stranger:
        made.append(start_stranger("127.0.0.1", free_port(), uid=uid))
        return made[-1]

    yield start
    for stranger in made:
        stranger.stop()


@pytest.fixture
def no_socket_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on macOS and Windows: the kernel cannot say who owns a listening socket."""
    monkeypatch.setattr("jarvis_sync.client.listener_uids", lambda port: None)


def _keyed_server(server_factory: ServerFactory, tmp_path: Path) -> tuple[LiveServer, bytes]:
    key = secrets.token_bytes(32)
    key_file = tmp_path / "identity.key"
    key_file.write_text(key.hex())
    key_file.chmod(0o600)
    return server_factory(env={"JARVIS_IDENTITY_KEY_FILE": str(key_file)}), key


# --- a real server -------------------------------------------------------------------------


def test_health_of_a_real_server(live_server: LiveServer) -> None:
    """The health check says where it asked, that the server answered 200, and how fast."""
    with ServerClient(live_server.url) as server:
        health = server.health()
    assert health.ok
    assert health.status == 200
    assert health.url == f"{live_server.url}{HEALTH_PATH}"
    assert health.latency_ms >= 0


def test_token_check_accepts_a_real_token_and_refuses_others(live_server: LiveServer) -> None:
    """A token the server issued passes; an unknown one is a 401 and a revoked one a 403, each
    TokenRefusedError with what to do, and no message repeats the token."""
    token = live_server.create_token("client-test")
    with ServerClient(live_server.url) as server:
        server.check_token(token)
        unknown = "not-a-token-" + secrets.token_hex(8)
        with pytest.raises(TokenRefusedError) as refused:
            server.check_token(unknown)
        assert refused.value.status == 401
        assert "jarvis-server token create" in str(refused.value)
        assert unknown not in str(refused.value)
        live_server.revoke("client-test")
        with pytest.raises(TokenRefusedError) as revoked:
            server.check_token(token)
        assert revoked.value.status == 403
        assert "new device token" in str(revoked.value)
        assert token not in str(revoked.value)


def test_an_address_without_the_capture_api_is_named(live_server: LiveServer) -> None:
    """A base URL with a wrong path: health is not ok, and the token check says there is no
    Jarvis capture API there (UnexpectedReplyError, 404)."""
    with ServerClient(f"{live_server.url}/elsewhere") as server:
        assert not server.health().ok
        with pytest.raises(UnexpectedReplyError, match="no Jarvis capture API") as wrong:
            server.check_token(live_server.create_token("path-test"))
    assert wrong.value.status == 404


def test_upload_stores_a_capture(live_server: LiveServer) -> None:
    """An upload to the real server is stored (201), and sending it again is a replay (200)."""
    token = live_server.create_token("upload-test")
    metadata, data = capture()
    with ServerClient(live_server.url) as server:
        first = server.upload(token, metadata, data)
        again = server.upload(token, metadata, data)
    assert (first.kind, first.status) == ("done", 201)
    assert (again.kind, again.status) == ("done", 200)
    assert [c.id for c in live_server.captures()] == [metadata.id]


def test_identity_check_passes_only_with_the_servers_key(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    """A local server given the identity key proves it holds that key; another key fails."""
    server, key = _keyed_server(server_factory, tmp_path)
    with ServerClient(server.url, identity_key=key) as client:
        assert client.identity_problem() is None
    with ServerClient(server.url, identity_key=secrets.token_bytes(32)) as client:
        problem = client.identity_problem()
    assert problem is not None
    assert "could not prove it is your Jarvis server" in problem


def test_without_a_socket_table_the_token_goes_only_after_the_proof(
    server_factory: ServerFactory, tmp_path: Path, no_socket_table: None
) -> None:
    """Where the kernel cannot name the owner, the token check passes against the user's own
    server (it proves the key) and is refused without a key to prove."""
    server, key = _keyed_server(server_factory, tmp_path)
    token = server.create_token("proof-test")
    with ServerClient(server.url, identity_key=key) as client:
        client.check_token(token)
    with ServerClient(server.url) as client, pytest.raises(UntrustedServerError) as refused:
        client.check_token(token)
    assert "cannot tell who listens" in str(refused.value)


# --- transport errors become ours ----------------------------------------------------------


def test_nothing_listening_is_unreachable_and_chained() -> None:
    """No server on the port: ServerUnreachableError with the cause in words and the httpx
    error chained (raise ... from); an upload becomes a "retry" outcome instead."""
    url = f"http://127.0.0.1:{free_port()}"
    with ServerClient(url) as server:
        with pytest.raises(ServerUnreachableError) as unreachable:
            server.health()
        outcome = server.upload("a-device-token", *capture())
    assert unreachable.value.reason == "cannot connect to the server"
    assert not unreachable.value.timed_out
    assert isinstance(unreachable.value.__cause__, httpx.ConnectError)
    assert outcome.kind == "retry"
    assert "cannot connect to the server" in outcome.detail


def test_an_address_that_cannot_be_parsed_is_named() -> None:
    """A malformed address is refused with a sentence naming it, not an httpx or ValueError."""
    with pytest.raises(ServerUnreachableError, match="not a valid server URL"):
        ServerClient("http://127.0.0.1:99999")


# --- strangers -----------------------------------------------------------------------------


def test_plain_http_to_another_host_is_refused_before_connecting() -> None:
    """Plain http to a host that is not this computer, without the opt-in: the health check
    and the token check refuse at once with the rule's sentence (no connection is tried)."""
    with ServerClient("http://192.0.2.1:9") as server:
        with pytest.raises(UntrustedServerError, match="plain http"):
            server.health()
        with pytest.raises(UntrustedServerError, match="plain http"):
            server.check_token("a-device-token")
        outcome = server.upload("a-device-token", *capture())
    assert outcome.kind == "untrusted"


def test_another_users_listener_is_sent_nothing(strangers: Callable[..., Stranger]) -> None:
    """A program of another uid on the loopback port: health, the token check and an upload
    are all refused with its uid named, and it receives no request at all."""
    stranger = strangers(uid=SPARE_UID)
    with ServerClient(stranger.url) as server:
        with pytest.raises(UntrustedServerError, match=f"uid {SPARE_UID}"):
            server.health()
        with pytest.raises(UntrustedServerError, match=f"uid {SPARE_UID}"):
            server.check_token("a-device-token")
        assert server.upload("a-device-token", *capture()).kind == "untrusted"
    assert stranger.requests == []


def test_a_stranger_that_cannot_prove_the_key_gets_only_a_nonce(
    strangers: Callable[..., Stranger], no_socket_table: None
) -> None:
    """Without a socket table, a stranger answering 200 to everything is asked for the proof,
    fails it, and never sees the token; the identity check names the failure too."""
    stranger = strangers()
    key = secrets.token_bytes(32)
    with ServerClient(stranger.url, identity_key=key) as server:
        with pytest.raises(UntrustedServerError, match="could not prove"):
            server.check_token("a-device-token")
        assert server.upload("a-device-token", *capture()).kind == "untrusted"
        assert "could not prove" in (server.identity_problem() or "")
    assert [r["path"] for r in stranger.requests] == [IDENTITY_PATH] * 3
    assert not stranger.got_a_token
    assert CAPTURES_PATH not in {r["path"] for r in stranger.requests}
