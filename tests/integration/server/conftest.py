"""Server tests run against the real server; the important ones on SQLite and on PostgreSQL.

Starting a server costs a second or two, so most tests share one server per module and backend
(`shared_server`) and tell their data apart by capture id or by a device of their own; tests that
need special settings or a restart make their own with `server_factory`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jarvis_contract import CaptureRecord
from tests.support.postgres import PostgresCluster
from tests.support.server import LiveServer, ServerFactory, make_server

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend_factory(
    request: pytest.FixtureRequest, server_factory: ServerFactory
) -> Callable[..., LiveServer]:
    """server_factory bound to one backend: SQLite, or a fresh database on the private cluster."""
    if request.param == "sqlite":
        return server_factory
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")

    def factory(env: dict[str, str] | None = None) -> LiveServer:
        name = cluster.create_database()
        request.addfinalizer(lambda: cluster.drop_database(name))
        return server_factory(env=env, database_url=cluster.url(name))

    return factory


@pytest.fixture(scope="module", params=BACKENDS)
def shared_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One started server per test module and backend, with default settings."""
    home = tmp_path_factory.mktemp("shared-server")
    if request.param == "sqlite":
        server = make_server(home)
        server.start()
        yield server
        server.stop()
        return
    cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
    name = cluster.create_database()
    server = make_server(home, database_url=cluster.url(name))
    server.start()
    yield server
    server.stop()
    cluster.drop_database(name)


@dataclass(frozen=True)
class Device:
    name: str
    token: str


@pytest.fixture(scope="module")
def laptop(shared_server: LiveServer) -> Device:
    """A device on the shared server that most tests upload as."""
    return Device("laptop", shared_server.create_token("laptop"))


@pytest.fixture
def new_device(shared_server: LiveServer) -> Callable[[], Device]:
    """Make a device of this test's own on the shared server."""

    def make() -> Device:
        name = f"dev-{uuid.uuid4().hex[:8]}"
        return Device(name, shared_server.create_token(name))

    return make


def records_of(server: LiveServer, capture_id: str) -> list[CaptureRecord]:
    """Stored records with this capture id (any device)."""
    return [r for r in server.captures() if str(r.id) == capture_id]


def files_of(server: LiveServer, capture_id: str) -> list[Path]:
    """Stored image files of this capture id."""
    return [p for p in server.stored_files() if p.name.startswith(capture_id)]


@pytest.fixture
def server(backend_factory: Callable[..., LiveServer]) -> LiveServer:
    """A started server of this test's own, on each backend in turn (for restarts and kills)."""
    return backend_factory()
