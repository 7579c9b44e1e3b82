"""Trust review item 12: a huge Retry-After stopped the agent's sync silently.

A 429 whose Retry-After was 99999999999999999999 closed the worker's gate and then raised
OverflowError (timedelta) before the error or the next attempt were recorded: the status said
idle with no error while nothing was sent, for ever. Now every Retry-After is kept within
MAX_RETRY_AFTER (an hour), the status shows the wait and the reason, and any unexpected error in
the worker shows in the status and is retried. The server is real; 429s come from the fault
proxy in front of it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from jarvis_contract import CaptureMetadata
from jarvis_sync import (
    MAX_RETRY_AFTER,
    Outbox,
    RetryPolicy,
    SyncStatus,
    SyncWorker,
    Uploader,
    UploadOutcome,
)
from jarvis_sync.cipher import new_key
from tests.support.faultproxy import FaultProxy, Respond
from tests.support.server import LiveServer
from tests.unit.sync.factory import capture

HANG_GUARD = 90.0  # a bound for a broken worker, not a performance expectation
FAST = RetryPolicy(base=0.02, cap=0.2)
PROBLEM_429 = (
    b'{"type":"about:blank","title":"Too Many Requests","status":429,"detail":"slow down"}'
)


def wait_until(predicate: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.02)


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox.open(tmp_path / "outbox", key=new_key())
    yield box
    box.close()


@pytest.fixture
def proxy(live_server: LiveServer) -> Iterator[FaultProxy]:
    fault_proxy = FaultProxy(live_server.port)
    yield fault_proxy
    fault_proxy.close()


@pytest.fixture
def start_worker() -> Iterator[Callable[..., tuple[SyncWorker, list[SyncStatus]]]]:
    made: list[SyncWorker] = []

    def start(
        box: Outbox,
        url: str,
        token: str,
        *,
        retry: RetryPolicy = FAST,
        uploader_factory: Callable[[str, int], Uploader] | None = None,
    ) -> tuple[SyncWorker, list[SyncStatus]]:
        statuses: list[SyncStatus] = []
        worker = SyncWorker(
            box,
            server_url=url,
            token_provider=lambda: token,
            concurrency=1,
            retry=retry,
            on_status=statuses.append,
            uploader_factory=uploader_factory
            or (lambda u, n: Uploader(u, max_connections=n, timeout=httpx.Timeout(10.0))),
        )
        worker.start()
        made.append(worker)
        return worker, statuses

    yield start
    for worker in made:
        worker.stop()


def fill(box: Outbox, count: int) -> list[CaptureMetadata]:
    made = [capture() for _ in range(count)]
    for metadata, data in made:
        box.put(metadata, data)
    return [metadata for metadata, _ in made]


def stored_once(server: LiveServer, device: str, ids: list[CaptureMetadata]) -> bool:
    records = [r.id for r in server.captures() if r.device == device]
    return sorted(records) == sorted(m.id for m in ids)


HUGE = [
    "99999999999999999999",
    "9" * 400,
    "Fri, 31 Dec 9999 23:59:59 GMT",
]


@pytest.mark.parametrize("retry_after", HUGE, ids=["20-digits", "400-digits", "year-9999"])
def test_a_huge_retry_after_waits_an_hour_at_most_and_says_so(
    live_server: LiveServer,
    proxy: FaultProxy,
    outbox: Outbox,
    start_worker: Callable[..., tuple[SyncWorker, list[SyncStatus]]],
    retry_after: str,
) -> None:
    """A 429 asking for years of quiet: the status says offline, names the 429, and shows a next
    attempt at most an hour away; "sync now" after the proxy stops injecting delivers every
    capture exactly once."""
    device = f"huge-{len(retry_after)}-{retry_after[:4]}"
    token = live_server.create_token(device)
    proxy.plan(Respond(429, {"Retry-After": retry_after}, PROBLEM_429))
    ids = fill(outbox, 3)
    asked = datetime.now(UTC)
    worker, _ = start_worker(outbox, proxy.url, token)

    wait_until(lambda: worker.status().state == "offline", "the worker to report offline")
    status = worker.status()
    assert status.last_error is not None
    assert "HTTP 429 Too Many Requests" in status.last_error
    assert status.next_attempt_at is not None
    wait = status.next_attempt_at - asked
    assert timedelta(minutes=55) < wait <= timedelta(seconds=MAX_RETRY_AFTER + 5)
    assert status.queued == 3

    assert proxy.planned == 0  # the proxy injects nothing more
    worker.sync_now()
    wait_until(lambda: outbox.stats().sent_total == 3, "every capture sent after sync now")
    assert stored_once(live_server, device, ids)
    wait_until(lambda: worker.status().last_error is None, "the error to clear")


@pytest.mark.parametrize(
    "retry_after", ["-5", "1e30", "3600.5", "²", "soon", "Mon, 01 Jan 1900 00:00:00 GMT"]
)
def test_a_negative_garbage_or_past_retry_after_falls_back_to_the_backoff(
    live_server: LiveServer,
    proxy: FaultProxy,
    outbox: Outbox,
    start_worker: Callable[..., tuple[SyncWorker, list[SyncStatus]]],
    retry_after: str,
) -> None:
    """A Retry-After that is not a wait (negative, a float, not ASCII digits, a past date) is
    ignored: the usual backoff applies, the 429 shows in the published status, and the captures
    arrive by themselves once the proxy stops injecting."""
    device = f"odd-{abs(hash(retry_after)) % 10**8}"
    token = live_server.create_token(device)
    proxy.plan(*[Respond(429, {"Retry-After": retry_after}, PROBLEM_429)] * 3)
    ids = fill(outbox, 2)
    worker, statuses = start_worker(outbox, proxy.url, token)
    wait_until(lambda: outbox.stats().sent_total == 2, "every capture sent")
    assert stored_once(live_server, device, ids)
    assert any(s.state == "offline" and s.last_error and "429" in s.last_error for s in statuses), (
        statuses
    )
    wait_until(lambda: worker.status().last_error is None, "the error to clear")


def test_the_clamped_wait_ends_by_itself(
    live_server: LiveServer,
    proxy: FaultProxy,
    outbox: Outbox,
    start_worker: Callable[..., tuple[SyncWorker, list[SyncStatus]]],
) -> None:
    """With the maximum set to 1 s, a 429 asking for 1e20 s holds sync for about that second
    and the captures then arrive without anyone asking."""
    device = "clamped-wait"
    token = live_server.create_token(device)
    proxy.plan(Respond(429, {"Retry-After": "99999999999999999999"}, PROBLEM_429))
    ids = fill(outbox, 2)
    retry = RetryPolicy(base=0.02, cap=0.2, max_retry_after=1.0)
    _, statuses = start_worker(outbox, proxy.url, token, retry=retry)
    wait_until(lambda: outbox.stats().sent_total == 2, "every capture sent after the wait")
    assert stored_once(live_server, device, ids)
    assert any(s.state == "offline" and s.next_attempt_at for s in statuses), statuses


class _FailsOnce(Uploader):
    """A real uploader whose first upload hits a bug (an exception nobody planned for)."""

    failed = False

    def upload(self, token: str, metadata: CaptureMetadata, data: bytes) -> UploadOutcome:
        if not _FailsOnce.failed:
            _FailsOnce.failed = True
            raise OverflowError("date value out of range")
        return super().upload(token, metadata, data)


def test_an_unexpected_error_shows_in_the_status_and_is_retried(
    live_server: LiveServer,
    outbox: Outbox,
    start_worker: Callable[..., tuple[SyncWorker, list[SyncStatus]]],
) -> None:
    """An exception nobody planned for while sending: the published status shows it (offline,
    with the error and a next attempt), the capture stays queued, and it is sent on the retry."""
    device = "unexpected-error"
    token = live_server.create_token(device)
    ids = fill(outbox, 1)
    _FailsOnce.failed = False
    _, statuses = start_worker(
        outbox, live_server.url, token, uploader_factory=lambda u, n: _FailsOnce(u)
    )
    wait_until(lambda: outbox.stats().sent_total == 1, "the capture sent on the retry")
    assert stored_once(live_server, device, ids)
    shown = [s for s in statuses if s.last_error and "OverflowError" in s.last_error]
    assert shown, statuses
    assert shown[0].state == "offline"
    assert shown[0].next_attempt_at is not None
