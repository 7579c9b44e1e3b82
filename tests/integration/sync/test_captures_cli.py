"""`jarvis captures delete` on the device: through the server's API with the keyring's token."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import keyring
import pytest

from jarvis_sync import store_token
from tests.integration.server.uploads import make_capture, upload
from tests.support.keyring import SecretService
from tests.support.server import LiveServer

from .cli import jarvis

pytestmark = pytest.mark.keyring

T0 = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clean_keyring(secret_service: SecretService) -> None:
    if keyring.get_password("jarvis", "device-token") is not None:
        keyring.delete_password("jarvis", "device-token")


def _ids(server: LiveServer) -> set[str]:
    return {str(r.id) for r in server.captures()}


def _logged_in(server: LiveServer, device: str) -> str:
    token = server.create_token(device)
    done = jarvis("login", "--server", server.url, stdin=token + "\n")
    assert done.returncode == 0, done.stderr
    return token


def test_delete_one_capture_then_again(sync_server: LiveServer, device: str) -> None:
    """`jarvis captures delete ID` removes the capture (record and file); a second run says it
    is already gone and exits 0; neither prints the token."""
    token = _logged_in(sync_server, device)
    doomed, kept = make_capture(captured_at=T0), make_capture(captured_at=T0)
    with sync_server.client(token) as client:
        for capture in (doomed, kept):
            assert upload(client, capture).status_code == 201
    done = jarvis("captures", "delete", doomed.id)
    assert done.returncode == 0, done.stderr
    assert f"Deleted capture {doomed.id}" in done.stdout
    assert doomed.id not in _ids(sync_server)
    assert kept.id in _ids(sync_server)
    assert not [p for p in sync_server.stored_files() if p.name.startswith(doomed.id)]
    again = jarvis("captures", "delete", doomed.id, "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == {"deleted": 0}
    assert token not in done.stdout + done.stderr + again.stdout + again.stderr


def test_delete_a_range_asks_first_and_spares_other_devices(
    sync_server: LiveServer, device: str
) -> None:
    """A range delete without a terminal needs --yes (nothing is deleted before); with it the
    device's captures in [--from, --to) go and the count is printed; another device's
    captures in the same range stay."""
    token = _logged_in(sync_server, device)
    other = sync_server.create_token(f"{device}-other")
    mine = [make_capture(captured_at=T0 + timedelta(minutes=m)) for m in range(3)]
    theirs = make_capture(captured_at=T0 + timedelta(minutes=1))
    with sync_server.client(token) as client:
        for capture in mine:
            assert upload(client, capture).status_code == 201
    with sync_server.client(other) as client:
        assert upload(client, theirs).status_code == 201
    args = ["captures", "delete", "--from", T0.isoformat()]
    args += ["--to", (T0 + timedelta(minutes=2)).isoformat()]
    refused = jarvis(*args)
    assert refused.returncode == 1
    assert "--yes" in refused.stderr
    assert {c.id for c in mine} <= _ids(sync_server)
    done = jarvis(*args, "--yes")
    assert done.returncode == 0, done.stderr
    assert "Deleted 2 captures from the server." in done.stdout
    left = _ids(sync_server)
    assert mine[0].id not in left
    assert mine[1].id not in left
    assert {mine[2].id, theirs.id} <= left


def test_bad_arguments_are_explained(sync_server: LiveServer, device: str) -> None:
    """No id and no range, half a range, a time that is not one, or no login: exit code 1 or
    2 with a message naming what to do, and no request is sent."""
    assert "CAPTURE_ID or both --from and --to" in jarvis("captures", "delete").stderr
    half = jarvis("captures", "delete", "--from", "2026-01-01T00:00")
    assert "both --from and --to" in half.stderr
    bad = jarvis("captures", "delete", "--from", "yesterday", "--to", "2026-01-01", "--yes")
    assert bad.returncode == 2
    assert "'yesterday' is not a date and time" in bad.stderr
    store_token(sync_server.create_token(device))
    nothing = jarvis("captures", "delete", make_capture().id)
    assert nothing.returncode == 1
    assert "jarvis login" in nothing.stderr
