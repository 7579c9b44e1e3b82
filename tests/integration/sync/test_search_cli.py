"""`jarvis search WORDS` against the real server: hits printed with the match marked, and
`--open N` fetching the capture's image."""

from __future__ import annotations

import stat
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import keyring
import pytest

from tests.integration.server.uploads import make_capture, upload
from tests.support.keyring import SecretService
from tests.support.screens import text_screen
from tests.support.server import LiveServer, make_server

from .cli import jarvis

pytestmark = pytest.mark.keyring

_NO_VIEWER = {"DISPLAY": "", "WAYLAND_DISPLAY": ""}


@pytest.fixture(autouse=True)
def clean_keyring(secret_service: SecretService) -> None:
    for entry in ("device-token", "outbox-key"):
        if keyring.get_password("jarvis", entry) is not None:
            keyring.delete_password("jarvis", entry)


@pytest.fixture(scope="module")
def search_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server of this module's own, reading text: on the sync tests' shared server this
    test's capture would wait behind the OCR of every capture the other tests uploaded."""
    server = make_server(tmp_path_factory.mktemp("search-server"))
    server.start()
    yield server
    server.stop()


def _read(server: LiveServer) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if httpx.get(f"{server.url}/health/text", timeout=10).json()["pending"] == 0:
            return
        time.sleep(0.1)
    raise AssertionError("the server did not read the capture's text")


def test_search_prints_hits_and_opens_one(search_server: LiveServer, device: str) -> None:
    """Hits show the app, the window title and the snippet with the match marked; `--open 1`
    without a viewer saves the very image, readable by the user only; no hit says so."""
    token = search_server.create_token(device)
    assert jarvis("login", "--server", search_server.url, stdin=token + "\n").returncode == 0
    image = text_screen(["meeting agenda for the warehouse inventory"]).encode("PNG")
    capture = make_capture(image, mime="image/png", app_name="Thunderbird", window_title="Inbox")
    with search_server.client(token) as client:
        assert upload(client, capture).status_code == 201
    _read(search_server)

    done = jarvis("search", "warehouse", env=_NO_VIEWER)
    assert done.returncode == 0, done.stderr
    assert "Thunderbird — Inbox" in done.stdout
    assert "[[warehouse]]" in done.stdout
    assert token not in done.stdout + done.stderr

    opened = jarvis("search", "warehouse", "--open", "1", env=_NO_VIEWER)
    assert opened.returncode == 0, opened.stderr
    saved = Path(opened.stdout.split("saved to ")[1].split(" (")[0])
    try:
        assert saved.read_bytes() == image
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    finally:
        saved.unlink()

    none = jarvis("search", "nosuchwordanywhere", env=_NO_VIEWER)
    assert none.returncode == 0
    assert 'No captures match "nosuchwordanywhere"' in none.stdout


def test_bad_query_is_explained(search_server: LiveServer, device: str) -> None:
    """A query the server refuses prints its reason and exits 1."""
    token = search_server.create_token(device)
    assert jarvis("login", "--server", search_server.url, stdin=token + "\n").returncode == 0
    done = jarvis("search", '"unclosed', env=_NO_VIEWER)
    assert done.returncode == 1
    assert "search failed" in done.stderr
    assert "quote" in done.stderr
