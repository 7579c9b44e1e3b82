"""Sync test helpers: one real server for the package, a fault proxy, fast-retrying workers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jarvis_sync import Outbox, SyncStatus, SyncWorker
from jarvis_sync.cipher import new_key
from tests.support.faultproxy import FaultProxy
from tests.support.server import LiveServer, make_server
from tests.support.syncworker import start_worker
from tests.support.syncworker import wait_until as wait_until


@pytest.fixture(scope="package")
def sync_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real server for all sync tests (each test uses its own device). It reads no text:
    these tests upload thousands of captures, and OCR of them all would only slow the run down
    and queue a search test's capture behind them (test_search_cli has a server of its own)."""
    server = make_server(
        tmp_path_factory.mktemp("sync-server"), env={"JARVIS_TEXT_EXTRACTION": "false"}
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def device(request: pytest.FixtureRequest) -> str:
    """A device name of this test's own, so tests sharing a server see only their captures."""
    return request.node.name.replace("[", "-").replace("]", "")[:60]


@pytest.fixture
def proxy(sync_server: LiveServer) -> Iterator[FaultProxy]:
    """A fault proxy in front of `sync_server`."""
    fault_proxy = FaultProxy(sync_server.port)
    yield fault_proxy
    fault_proxy.close()


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    """An empty outbox with its own key."""
    box = Outbox.open(tmp_path / "outbox", key=new_key())
    yield box
    box.close()


WorkerFactory = Callable[..., SyncWorker]


@pytest.fixture
def worker_factory() -> Iterator[WorkerFactory]:
    """`worker_factory(outbox, url, token_provider, read_timeout=..., **kw)`, stopped after."""
    made: list[SyncWorker] = []
    statuses: list[SyncStatus] = []

    def factory(
        box: Outbox,
        url: str | None,
        token_provider: Callable[[], str | None],
        *,
        read_timeout: float = 30.0,
        **kwargs: object,
    ) -> SyncWorker:
        worker = start_worker(
            box,
            url,
            token_provider,
            read_timeout=read_timeout,
            on_status=statuses.append,
            **kwargs,
        )
        made.append(worker)
        return worker

    yield factory
    for worker in made:
        worker.stop()
