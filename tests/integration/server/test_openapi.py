"""The API schema: committed, free of drift, and honoured by the running server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from jarvis_contract import EVENTS_PATH
from jarvis_server.app import create_app
from jarvis_server.core.config import Settings
from tests.integration.server.uploads import make_capture, upload
from tests.support.server import LiveServer, make_server

COMMITTED = Path(__file__).parents[3] / "server" / "openapi.json"


def test_committed_schema_matches_the_app() -> None:
    """server/openapi.json is what the app serves; regenerate it with
    `uv run jarvis-server openapi > server/openapi.json` after an API change."""
    current = create_app(Settings()).openapi()
    committed = json.loads(COMMITTED.read_text())
    hint = "run `uv run jarvis-server openapi > server/openapi.json`"
    assert committed == json.loads(json.dumps(current)), f"server/openapi.json is stale: {hint}"


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    """A server with one stored capture and an admin token, for schemathesis to probe."""
    server = make_server(tmp_path_factory.mktemp("fuzz-server"))
    server.start()
    token = server.create_token("fuzzer", admin=True)
    with server.client(token) as client:
        assert upload(client, make_capture()).status_code == 201
    yield server, token
    server.stop()


def _operations() -> list[tuple[str, str]]:
    paths = json.loads(COMMITTED.read_text())["paths"]
    # The event stream never ends, so a generated request would wait forever for its body.
    return [
        (method.upper(), path)
        for path, item in sorted(paths.items())
        for method in sorted(item)
        if path != EVENTS_PATH
    ]


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.mark.parametrize(("method", "path"), _operations())
def test_api_conforms_to_its_schema(
    fuzz_server: tuple[LiveServer, str], method: str, path: str
) -> None:
    """With a valid token, schemathesis-generated requests never get a 5xx, and every response
    (status, content type, headers, body) is one the schema declares."""
    server, token = fuzz_server
    operation = schemathesis.openapi.from_url(f"{server.url}/openapi.json")[path][method]

    @given(case=operation.as_strategy())
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS
        )

    check()
