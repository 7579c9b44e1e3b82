"""The sync worker's status without a server: what the tray shows before login."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from jarvis_sync import CredentialsError, KeyringUnavailableError, Outbox, SyncWorker
from jarvis_sync.cipher import new_key

from .factory import capture


def test_without_server_or_token_it_is_not_configured_and_keeps_everything(
    tmp_path: Path,
) -> None:
    """No server URL or no token: state not_configured; captures wait and are counted."""
    with Outbox.open(tmp_path, key=new_key()) as outbox:
        outbox.put(*capture())
        worker = SyncWorker(outbox, server_url=None, token_provider=lambda: "t")
        worker.start()
        try:
            status = worker.status()
            assert (status.state, status.queued) == ("not_configured", 1)
            worker.configure(server_url="http://127.0.0.1:9")
            worker.stop()
        finally:
            worker.stop()
        no_token = SyncWorker(outbox, server_url="http://127.0.0.1:9", token_provider=lambda: None)
        no_token.start()
        try:
            assert no_token.status().state == "not_configured"
        finally:
            no_token.stop()
        assert outbox.stats().pending == 1


def test_keyring_failure_is_shown_not_raised(tmp_path: Path) -> None:
    """A keyring that fails while the worker reads the token leaves it not configured, running."""

    def broken() -> str | None:
        raise KeyringUnavailableError("no working OS keyring")

    with Outbox.open(tmp_path, key=new_key()) as outbox:
        worker = SyncWorker(outbox, server_url="http://127.0.0.1:9", token_provider=broken)
        worker.start()
        try:
            assert worker.status().state == "not_configured"
            worker.sync_now()
            assert worker.status().state == "not_configured"
        finally:
            worker.stop()


def test_nonsense_concurrency_is_refused(tmp_path: Path) -> None:
    """Concurrency below one is refused with a message naming the value."""
    with Outbox.open(tmp_path, key=new_key()) as outbox, pytest.raises(ValueError, match="got 0"):
        SyncWorker(outbox, server_url=None, token_provider=lambda: None, concurrency=0)
    assert issubclass(KeyringUnavailableError, CredentialsError)


def test_damaged_blob_is_quarantined_before_it_is_sent(tmp_path: Path) -> None:
    """A blob altered on disk (same size, so start-up cannot tell) fails its check when the
    worker picks it up: it is quarantined and counted, never uploaded as something else."""
    with Outbox.open(tmp_path, key=new_key()) as outbox:
        metadata, data = capture()
        outbox.put(metadata, data)
        blob = tmp_path / "blobs" / f"{metadata.id}.blob"
        raw = bytearray(blob.read_bytes())
        raw[-20] ^= 0xFF
        blob.write_bytes(bytes(raw))
        worker = SyncWorker(outbox, server_url="http://127.0.0.1:9", token_provider=lambda: "t")
        worker.start()
        try:
            deadline = time.monotonic() + 60
            while outbox.stats().quarantined_total == 0 and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            worker.stop()
        stats = outbox.stats()
        assert (stats.quarantined_total, stats.pending, stats.sent_total) == (1, 0, 0)
        assert worker.status().quarantined == 1
        assert not blob.exists()
