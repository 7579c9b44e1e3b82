"""`jarvis outbox status|list|retry-dead|purge` on a real outbox whose key is in the keyring."""

from __future__ import annotations

import json

import keyring
import pytest

from jarvis_agent.paths import agent_paths
from jarvis_contract import CaptureMetadata
from jarvis_sync import Outbox, format_size, outbox_key
from tests.support.keyring import SecretService
from tests.unit.sync.factory import capture

from .cli import jarvis

pytestmark = pytest.mark.keyring


@pytest.fixture
def queued(secret_service: SecretService) -> list[CaptureMetadata]:
    """Five captures in the agent's outbox: three pending, two dead letters."""
    if keyring.get_password("jarvis", "outbox-key") is not None:
        keyring.delete_password("jarvis", "outbox-key")
    with Outbox.open(agent_paths().outbox_dir, key=outbox_key()) as outbox:
        metas = []
        for _ in range(5):
            metadata, data = capture()
            outbox.put(metadata, data)
            metas.append(metadata)
        for entry in outbox.claim(2):
            outbox.bury(entry.id, "HTTP 415 Unsupported media type: not a PNG")
    return metas


def test_status_counts_what_waits(queued: list[CaptureMetadata]) -> None:
    """`outbox status` shows pending and dead counts, in text and JSON."""
    done = jarvis("outbox", "status")
    assert done.returncode == 0, done.stderr
    assert "Waiting to upload: 3" in done.stdout
    assert "Dead letters:      2" in done.stdout
    data = json.loads(jarvis("outbox", "status", "--json").stdout)
    assert (data["pending"], data["dead"], data["dead_total"]) == (3, 2, 2)


def test_list_shows_dead_letters_with_the_servers_reason(queued: list[CaptureMetadata]) -> None:
    """`outbox list --state dead` names the refused captures and why the server refused them."""
    done = jarvis("outbox", "list", "--state", "dead")
    assert done.returncode == 0, done.stderr
    assert str(queued[0].id) in done.stdout
    assert "not a PNG" in done.stdout
    rows = json.loads(jarvis("outbox", "list", "--json").stdout)
    assert [r["id"] for r in rows] == [str(m.id) for m in queued]
    assert rows[0]["window_title"] == queued[0].window_title


def test_retry_dead_requeues(queued: list[CaptureMetadata]) -> None:
    """`outbox retry-dead` puts dead letters back in the queue."""
    done = jarvis("outbox", "retry-dead", "--json")
    assert json.loads(done.stdout) == {"requeued": 2}
    assert json.loads(jarvis("outbox", "status", "--json").stdout)["pending"] == 5


def test_purge_asks_first(queued: list[CaptureMetadata]) -> None:
    """`outbox purge` deletes only after the user says yes (or passes --yes)."""
    done = jarvis("outbox", "purge", stdin="n\n")
    assert done.returncode == 1
    assert "Delete 5 unsent captures" in done.stderr
    assert json.loads(jarvis("outbox", "status", "--json").stdout)["pending"] == 3
    done = jarvis("outbox", "purge", "--dead-only", stdin="y\n")
    assert done.returncode == 0, done.stderr
    assert "Deleted 2 captures" in done.stdout
    done = jarvis("outbox", "purge", "--yes", "--json")
    assert json.loads(done.stdout)["purged"] == 3
    assert json.loads(jarvis("outbox", "status", "--json").stdout)["pending"] == 0


def test_purge_with_nothing_queued_says_so_and_asks_nothing(secret_service: SecretService) -> None:
    """`outbox purge` on an empty outbox asks no question (stdin is closed) and says there was
    nothing to delete."""
    done = jarvis("outbox", "purge", stdin="")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "There is nothing to delete: no capture is waiting in the outbox.\n"
    assert "Delete" not in done.stderr
    done = jarvis("outbox", "purge", "--dead-only", stdin="")
    assert done.stdout == "There are no dead letters to delete.\n"


def test_sizes_are_in_binary_units(queued: list[CaptureMetadata]) -> None:
    """`outbox status` and `outbox list` give sizes in the one unit system (KiB, MiB, GiB)."""
    done = jarvis("outbox", "status")
    assert "of 2.0 GiB" in done.stdout
    assert " MB" not in done.stdout
    listing = jarvis("outbox", "list").stdout
    assert f"{format_size(queued[0].byte_size):>10}  editor" in listing
    assert " kB " not in listing


def test_bad_option_is_named(queued: list[CaptureMetadata]) -> None:
    """A wrong --state value is refused with the allowed choices."""
    done = jarvis("outbox", "list", "--state", "lost")
    assert done.returncode == 2
    assert "'lost' is not one of 'pending', 'in_flight', 'dead'" in done.stderr
