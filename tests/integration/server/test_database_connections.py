"""The server's PostgreSQL connections: a connection that sat idle is checked before use, so a
database that dropped every connection (a restart, a proxy's idle timeout) costs no upload; one
dropped while in steady use costs at most one 503 with Retry-After, and the retry is stored once.
"""

from __future__ import annotations

import time

import pytest

from jarvis_contract import ProblemType
from jarvis_server.core.db import IDLE_BEFORE_PING
from tests.integration.server.problems import assert_problem
from tests.integration.server.uploads import make_capture, make_image, upload
from tests.support.postgres import PostgresCluster
from tests.support.server import ServerFactory

pytestmark = pytest.mark.postgres

# No text worker: its polls of the queue would meet a dropped connection before the upload does.
_QUIET = {"JARVIS_TEXT_EXTRACTION": "false"}


def _drop_connections(cluster: PostgresCluster, database: str) -> int:
    """Terminate every session on `database` (the server's pool and its LISTEN connection)."""
    # `database` is a name create_database made (t_ and hex digits), not input.
    out = cluster.psql(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "  # noqa: S608
        f"WHERE datname = '{database}' AND pid <> pg_backend_pid()"
    )
    return int(out.strip())


def test_connections_dropped_while_idle_cost_no_upload(
    server_factory: ServerFactory, postgres_cluster: PostgresCluster
) -> None:
    """After the database ends every connection of a server that was idle for a few seconds,
    the next upload is stored at the first try (201): idle connections are pinged first."""
    database = postgres_cluster.create_database()
    try:
        server = server_factory(env=_QUIET, database_url=postgres_cluster.url(database))
        token = server.create_token("laptop")
        with server.client(token) as client:
            assert upload(client, make_capture(make_image(seed=1))).status_code == 201
            assert _drop_connections(postgres_cluster, database) > 0
            time.sleep(IDLE_BEFORE_PING + 1)
            capture = make_capture(make_image(seed=2))
            assert upload(client, capture).status_code == 201
        assert [str(r.id) for r in server.captures() if str(r.id) == capture.id] == [capture.id]
    finally:
        postgres_cluster.drop_database(database)


def test_connections_dropped_in_steady_use_cost_at_most_one_retry(
    server_factory: ServerFactory, postgres_cluster: PostgresCluster
) -> None:
    """Connections ended right after use are not pinged: the first upload may get a 503 problem
    with Retry-After (never a 500), the pool is renewed, and the retry stores the capture once."""
    database = postgres_cluster.create_database()
    try:
        server = server_factory(env=_QUIET, database_url=postgres_cluster.url(database))
        token = server.create_token("laptop")
        with server.client(token) as client:
            assert upload(client, make_capture(make_image(seed=1))).status_code == 201
            assert _drop_connections(postgres_cluster, database) > 0
            capture = make_capture(make_image(seed=2))
            first = upload(client, capture)
            if first.status_code != 201:
                assert_problem(first, 503, ProblemType.UNAVAILABLE)
                assert int(first.headers["Retry-After"]) >= 1
                assert upload(client, capture).status_code == 201
            assert upload(client, capture).status_code == 200  # a replay from now on
        assert [str(r.id) for r in server.captures() if str(r.id) == capture.id] == [capture.id]
    finally:
        postgres_cluster.drop_database(database)
