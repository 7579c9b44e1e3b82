"""Health endpoints and the problem documents of unknown paths and methods."""

from __future__ import annotations

import shutil

from jarvis_contract import ProblemType
from tests.integration.server.problems import assert_problem
from tests.support.postgres import PostgresCluster
from tests.support.server import LiveServer, ServerFactory


def test_health_endpoints_answer_ok(shared_server: LiveServer) -> None:
    """/health, /health/db and /health/storage answer 200 with status ok and the version."""
    with shared_server.client() as client:
        for path in ("/health", "/health/db", "/health/storage"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert response.json()["status"] == "ok"
            assert response.json()["version"]


def test_unknown_path_and_wrong_method_are_problems(shared_server: LiveServer) -> None:
    """404 and 405 come as problem documents with their stable types (405 with Allow)."""
    with shared_server.client() as client:
        assert_problem(client.get("/nowhere"), 404, ProblemType.NOT_FOUND)
        response = client.delete("/health")
        assert_problem(response, 405, ProblemType.METHOD_NOT_ALLOWED)
        assert response.headers["allow"] == "GET"


def test_storage_health_reports_an_unusable_directory(server_factory: ServerFactory) -> None:
    """/health/storage answers 503 naming JARVIS_STORAGE_DIR when the directory is replaced by a
    file, and 200 again once it is back."""
    server = server_factory()
    moved = server.storage_dir.with_name("storage-moved")
    server.storage_dir.rename(moved)
    server.storage_dir.write_bytes(b"not a directory")
    try:
        with server.client() as client:
            body = assert_problem(client.get("/health/storage"), 503, ProblemType.UNAVAILABLE)
            assert "JARVIS_STORAGE_DIR" in body["detail"]
    finally:
        server.storage_dir.unlink()
        shutil.move(moved, server.storage_dir)
    with server.client() as client:
        assert client.get("/health/storage").status_code == 200


def test_database_health_reports_a_lost_database(
    server_factory: ServerFactory, postgres_cluster: PostgresCluster
) -> None:
    """/health/db answers 503 naming JARVIS_DATABASE_URL when the database goes away."""
    name = postgres_cluster.create_database()
    server = server_factory(database_url=postgres_cluster.url(name))
    with server.client() as client:
        assert client.get("/health/db").status_code == 200
        postgres_cluster.drop_database(name)
        body = assert_problem(client.get("/health/db"), 503, ProblemType.UNAVAILABLE)
        assert "JARVIS_DATABASE_URL" in body["detail"]
        assert client.get("/health").status_code == 200
