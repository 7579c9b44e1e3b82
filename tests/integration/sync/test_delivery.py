"""Every accepted capture reaches the real server exactly once, whatever the network does."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from jarvis_contract import CaptureMetadata
from jarvis_sync import Outbox
from tests.support.faultproxy import CutReply, Delay, DropReply, FaultProxy, ResetMidBody, Respond
from tests.support.server import LiveServer, make_server
from tests.unit.sync.factory import capture, jpeg_bytes, metadata_for

from .conftest import WorkerFactory, wait_until


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server with a low per-device rate limit and a 50 kB upload limit."""
    server = make_server(
        tmp_path_factory.mktemp("strict-server"),
        env={
            "JARVIS_RATE_LIMIT_PER_MINUTE": "60",
            "JARVIS_RATE_LIMIT_BURST": "2",
            "JARVIS_MAX_UPLOAD_BYTES": "50000",
        },
    )
    server.start()
    yield server
    server.stop()


def fill(outbox: Outbox, count: int) -> list[tuple[CaptureMetadata, bytes]]:
    captures = [capture() for _ in range(count)]
    for metadata, data in captures:
        outbox.put(metadata, data)
    return captures


def assert_exactly_once(
    server: LiveServer, device: str, captures: list[tuple[CaptureMetadata, bytes]]
) -> None:
    """Each capture is on the server once, with its sha256, and nothing else of this device is."""
    records = [r for r in server.captures() if r.device == device]
    counts = Counter(r.id for r in records)
    assert set(counts) == {m.id for m, _ in captures}
    assert max(counts.values()) == 1
    by_id = {r.id: r for r in records}
    for metadata, _ in captures:
        assert by_id[metadata.id].sha256 == metadata.sha256
    for metadata, data in captures[:3]:
        assert server.image_bytes(metadata.id) == data


def test_server_down_from_the_start(
    sync_server: LiveServer, device: str, outbox: Outbox, worker_factory: WorkerFactory
) -> None:
    """With the server down from the start, captures wait (state offline) and all arrive later."""
    token = sync_server.create_token(device)
    sync_server.stop()
    captures = fill(outbox, 5)
    worker = worker_factory(outbox, sync_server.url, lambda: token)
    wait_until(lambda: worker.status().state == "offline", "worker reports offline")
    status = worker.status()
    assert status.queued == 5
    assert status.last_error is not None
    assert "cannot connect" in status.last_error
    sync_server.start()
    wait_until(lambda: outbox.stats().sent_total == 5, "all captures sent")
    assert_exactly_once(sync_server, device, captures)
    wait_until(lambda: worker.status().state == "idle", "worker idle")
    assert worker.status().last_error is None


def test_server_killed_mid_drain_and_restarted(
    sync_server: LiveServer, device: str, outbox: Outbox, worker_factory: WorkerFactory
) -> None:
    """A server killed with SIGKILL while the queue drains loses nothing and stores no duplicate."""
    token = sync_server.create_token(device)
    captures = fill(outbox, 80)
    worker_factory(outbox, sync_server.url, lambda: token)
    wait_until(lambda: outbox.stats().sent_total >= 10, "the drain has started")
    sync_server.kill()
    sync_server.start()
    wait_until(lambda: outbox.stats().sent_total == 80, "all captures sent")
    assert_exactly_once(sync_server, device, captures)


def test_reply_lost_after_the_server_stored_the_capture(
    sync_server: LiveServer,
    device: str,
    proxy: FaultProxy,
    outbox: Outbox,
    worker_factory: WorkerFactory,
) -> None:
    """When the reply is lost after the server stored the capture, the retry stores no copy."""
    token = sync_server.create_token(device)
    proxy.plan(DropReply(), DropReply())
    captures = fill(outbox, 3)
    worker_factory(outbox, proxy.url, lambda: token, concurrency=1)
    wait_until(lambda: outbox.stats().sent_total == 3, "all captures sent")
    assert proxy.requests == 5  # two replies lost, each followed by one retry
    assert_exactly_once(sync_server, device, captures)


def test_500_and_503_storm_is_retried_and_not_logged_line_by_line(
    sync_server: LiveServer,
    device: str,
    proxy: FaultProxy,
    outbox: Outbox,
    worker_factory: WorkerFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A storm of 500/503 replies delays delivery but loses nothing; the log counts repeats."""
    token = sync_server.create_token(device)
    body = b'{"type":"about:blank","title":"Service Unavailable","status":503}'
    proxy.plan(*[Respond(503, body=body)] * 30, *[Respond(500)] * 10)
    captures = fill(outbox, 4)
    with caplog.at_level(logging.INFO, logger="jarvis.sync"):
        worker_factory(outbox, proxy.url, lambda: token)
        wait_until(lambda: outbox.stats().sent_total == 4, "all captures sent")
    assert proxy.planned == 0
    assert_exactly_once(sync_server, device, captures)
    failures = [r.getMessage() for r in caplog.records if "upload failed" in r.getMessage()]
    assert len(failures) <= 4, failures  # one line per kind of failure, plus the summaries
    assert any("more identical failures" in m for m in failures)
    assert any("recovered" in r.getMessage() for r in caplog.records)


def test_success_of_an_upload_sent_before_a_429_leaves_the_wait_on_show(
    sync_server: LiveServer,
    device: str,
    proxy: FaultProxy,
    outbox: Outbox,
    worker_factory: WorkerFactory,
) -> None:
    """Two uploads at once: one is answered 429 while the other is still on its way. The late
    success does not hide why sync is waiting, nor until when."""
    token = sync_server.create_token(device)
    proxy.plan(Delay(1.0), Respond(429, headers={"Retry-After": "4"}, body=b"slow down"))
    captures = fill(outbox, 2)
    worker = worker_factory(outbox, proxy.url, lambda: token, concurrency=2)
    wait_until(lambda: outbox.stats().sent_total == 1, "the delayed upload stored")
    status = worker.status()
    assert status.state == "offline"
    assert status.last_error is not None
    assert "429" in status.last_error
    assert status.next_attempt_at is not None
    wait_until(lambda: outbox.stats().sent_total == 2, "the rate-limited capture sent")
    assert_exactly_once(sync_server, device, captures)
    assert worker.status().last_error is None


def test_429_with_retry_after_in_seconds_from_the_real_rate_limiter(
    strict_server: LiveServer, device: str, outbox: Outbox, worker_factory: WorkerFactory
) -> None:
    """The server's own rate limit (429 + Retry-After seconds) is honoured; all captures arrive."""
    server = strict_server
    token = server.create_token(device)
    captures = fill(outbox, 4)
    worker = worker_factory(outbox, server.url, lambda: token)
    wait_until(lambda: worker.status().state == "offline", "rate limited")
    status = worker.status()
    assert status.last_error is not None
    assert "429" in status.last_error
    assert status.next_attempt_at is not None  # shown to the user as "next attempt at"
    wait_until(lambda: outbox.stats().sent_total == 4, "all captures sent")
    assert_exactly_once(server, device, captures)


@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_429_retry_after_is_waited_out(
    form: str,
    sync_server: LiveServer,
    device: str,
    proxy: FaultProxy,
    outbox: Outbox,
    worker_factory: WorkerFactory,
) -> None:
    """Retry-After as seconds or as an HTTP date makes the next attempt wait at least that long."""
    token = sync_server.create_token(device)
    value = (
        "2"
        if form == "seconds"
        else format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
    )
    proxy.plan(Respond(429, headers={"Retry-After": value}))
    captures = fill(outbox, 1)
    worker_factory(outbox, proxy.url, lambda: token)
    wait_until(lambda: outbox.stats().sent_total == 1, "capture sent")
    first, second = proxy.request_times[:2]
    assert second - first >= 1.0  # an HTTP date has whole-second resolution
    assert_exactly_once(sync_server, device, captures)


def test_slow_server_times_out_and_the_retry_is_a_replay(
    sync_server: LiveServer,
    device: str,
    proxy: FaultProxy,
    outbox: Outbox,
    worker_factory: WorkerFactory,
) -> None:
    """A reply slower than the read timeout is retried; the server keeps one copy."""
    token = sync_server.create_token(device)
    proxy.plan(Delay(2.0))
    captures = fill(outbox, 1)
    worker = worker_factory(outbox, proxy.url, lambda: token, read_timeout=0.5, concurrency=1)
    wait_until(lambda: outbox.stats().sent_total == 1, "capture sent")
    assert proxy.requests == 2
    assert_exactly_once(sync_server, device, captures)
    assert worker.status().last_error is None


def test_connection_reset_mid_body(
    sync_server: LiveServer,
    device: str,
    proxy: FaultProxy,
    outbox: Outbox,
    worker_factory: WorkerFactory,
) -> None:
    """A connection reset while the image is being sent is retried; the server stores it once."""
    token = sync_server.create_token(device)
    proxy.plan(ResetMidBody(after=4000), ResetMidBody(after=100))
    data = jpeg_bytes(200, 150)
    metadata = metadata_for(data, mime_type="image/jpeg", width=200, height=150)
    outbox.put(metadata, data)
    worker_factory(outbox, proxy.url, lambda: token, concurrency=1)
    wait_until(lambda: outbox.stats().sent_total == 1, "capture sent")
    assert proxy.requests == 3
    assert_exactly_once(sync_server, device, [(metadata, data)])
    assert sync_server.image_bytes(metadata.id) == data


def test_refused_captures_become_dead_letters(
    strict_server: LiveServer, device: str, outbox: Outbox, worker_factory: WorkerFactory
) -> None:
    """413, 415 and 422 replies turn captures into dead letters with the server's reason."""
    server = strict_server
    token = server.create_token(device)
    big = jpeg_bytes(300, 300)
    too_large = metadata_for(big, mime_type="image/jpeg", width=300, height=300)
    not_png = jpeg_bytes(16, 12)
    mislabelled = metadata_for(not_png, mime_type="image/png")
    good, good_data = capture()
    # The same id as `good` with other content: the server must refuse it (422).
    other_data = jpeg_bytes(16, 12)
    clash = metadata_for(other_data, mime_type="image/jpeg", capture_id=good.id)
    outbox.put(good, good_data)
    worker = worker_factory(outbox, server.url, lambda: token, concurrency=1)
    wait_until(lambda: outbox.stats().sent_total == 1, "the good capture sent")
    worker.stop()
    outbox.purge(history=True)  # forget the id locally, as a reinstalled agent would
    outbox.put(too_large, big)
    outbox.put(mislabelled, not_png)
    outbox.put(clash, other_data)
    worker = worker_factory(outbox, server.url, lambda: token, concurrency=1)
    wait_until(lambda: outbox.stats().dead == 3, "three dead letters")
    dead = {e.id: e.last_error or "" for e in outbox.entries(state="dead")}
    assert "413" in dead[too_large.id]
    assert "415" in dead[mislabelled.id]
    assert "422" in dead[clash.id]
    status = worker.status()
    assert status.dead == 3
    assert status.state == "idle"
    assert [r.id for r in server.captures() if r.device == device] == [good.id]
    assert server.image_bytes(good.id) == good_data


def test_configured_while_running_sends_what_waited(
    sync_server: LiveServer, device: str, outbox: Outbox, worker_factory: WorkerFactory
) -> None:
    """Captures queued before any server was set are sent once the server URL is configured."""
    token = sync_server.create_token(device)
    captures = fill(outbox, 3)
    worker = worker_factory(outbox, None, lambda: token)
    assert worker.status().state == "not_configured"
    worker.configure(server_url=sync_server.url)
    wait_until(lambda: outbox.stats().sent_total == 3, "all captures sent")
    assert_exactly_once(sync_server, device, captures)


def test_reply_cut_short_is_retried_as_a_replay(
    sync_server: LiveServer,
    device: str,
    proxy: FaultProxy,
    outbox: Outbox,
    worker_factory: WorkerFactory,
) -> None:
    """A reply cut off after its first bytes (status line or headers) is retried; one copy kept."""
    token = sync_server.create_token(device)
    proxy.plan(CutReply(keep=12), CutReply(keep=80))
    captures = fill(outbox, 2)
    worker_factory(outbox, proxy.url, lambda: token, concurrency=1)
    wait_until(lambda: outbox.stats().sent_total == 2, "all captures sent")
    assert proxy.requests == 4
    assert_exactly_once(sync_server, device, captures)
