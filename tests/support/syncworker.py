"""The agent's real sync path for tests: a SyncWorker draining an Outbox, retrying fast.

Shared by the sync tests and the server tests that send through the agent (replicas behind a
load balancer); `wait_until` polls with a bound for a hung test only.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from jarvis_sync import Outbox, RetryPolicy, SyncStatus, SyncWorker, Uploader

# Fast backoff so retry paths run in milliseconds; Retry-After from the server still counts.
FAST_RETRY = RetryPolicy(base=0.02, cap=0.2)
HANG_GUARD = 90.0  # a bound for a hung test, not a performance expectation


def wait_until(predicate: Callable[[], bool], what: str, guard: float = HANG_GUARD) -> None:
    """Poll `predicate` until true; fail with `what` if the system never gets there."""
    deadline = time.monotonic() + guard
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.02)


def start_worker(
    box: Outbox,
    url: str | None,
    token_provider: Callable[[], str | None],
    *,
    read_timeout: float = 30.0,
    on_status: Callable[[SyncStatus], None] | None = None,
    **kwargs: object,
) -> SyncWorker:
    """A started SyncWorker as the agent runs it, with FAST_RETRY unless `retry=` is given."""
    timeout = httpx.Timeout(5.0, read=read_timeout)
    worker = SyncWorker(
        box,
        server_url=url,
        token_provider=token_provider,
        retry=kwargs.pop("retry", FAST_RETRY),  # type: ignore[arg-type]
        on_status=on_status,
        uploader_factory=lambda u, n: Uploader(u, max_connections=n, timeout=timeout),
        **kwargs,  # type: ignore[arg-type]
    )
    worker.start()
    return worker
