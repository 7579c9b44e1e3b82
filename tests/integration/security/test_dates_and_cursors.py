"""Trust review item 10: dates and cursors at the edges of what Python and the database can hold
answer 400 problem documents, never a 500 with a traceback.

Property-based over capture times with every offset, over `since`/`until`, and over cursors
(garbage, base64 of anything, and well-formed ones with huge row numbers), on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from jarvis_contract import CAPTURES_PATH, ProblemType
from tests.integration.server.conftest import BACKENDS
from tests.integration.server.problems import assert_problem
from tests.integration.server.uploads import make_capture, upload
from tests.support.postgres import PostgresCluster
from tests.support.server import LiveServer, make_server

# Every request is a real one over loopback: enough examples to reach the edges, no more.
PROPERTIES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# RFC 3339 offsets are whole minutes, strictly less than a day either way.
offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
aware = st.datetimes(timezones=offsets)


def _in_utc(value: datetime) -> datetime | None:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return None


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One server per backend for the whole module."""
    home = tmp_path_factory.mktemp("dates-server")
    database: tuple[PostgresCluster, str] | None = None
    url = None
    if request.param == "postgres":
        cluster: PostgresCluster = request.getfixturevalue("postgres_cluster")
        database = (cluster, cluster.create_database())
        url = cluster.url(database[1])
    live = make_server(home, database_url=url)
    live.start()
    yield live
    live.stop()
    if database is not None:
        database[0].drop_database(database[1])


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[httpx.Client]:
    """A device's client on the module's server."""
    with server.client(server.create_token("clock-tester")) as c:
        yield c


@PROPERTIES
@given(captured_at=aware)
@example(captured_at=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))))
@example(captured_at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))))
@example(captured_at=datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
@example(captured_at=datetime(1970, 1, 1, tzinfo=UTC))
@example(captured_at=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC))
def test_capture_time_outside_the_representable_range_is_a_400(
    client: httpx.Client, captured_at: datetime
) -> None:
    """A capture time whose UTC instant overflows (year 1 at +14:00, year 9999 at -14:00) or
    lies before the Unix epoch is refused with a 400 naming captured_at; any other is stored."""
    capture = make_capture(captured_at=captured_at)
    response = upload(client, capture)
    utc = _in_utc(captured_at)
    if utc is None or utc < EPOCH:
        body = assert_problem(response, 400, ProblemType.BAD_METADATA)
        assert "captured_at" in body["detail"]
    else:
        assert response.status_code == 201, response.text
        assert datetime.fromisoformat(response.json()["captured_at"]) == captured_at


@PROPERTIES
@given(when=aware, bound=st.sampled_from(["since", "until"]))
@example(when=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), bound="since")
@example(when=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), bound="until")
@example(
    when=datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))), bound="since"
)
@example(
    when=datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))), bound="until"
)
@example(when=datetime(1, 1, 1, tzinfo=UTC), bound="since")
@example(when=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), bound="until")
def test_since_and_until_at_the_edges_are_answered(
    client: httpx.Client, when: datetime, bound: str
) -> None:
    """`since`/`until` at any instant of years 1-9999 in UTC list captures (200); one that
    overflows once converted to UTC is a 400 problem naming the parameter."""
    response = client.get(CAPTURES_PATH, params={bound: when.isoformat()})
    if _in_utc(when) is None:
        body = assert_problem(response, 400, ProblemType.VALIDATION)
        assert bound in body["detail"]
    else:
        assert response.status_code == 200, response.text


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


row_numbers = st.one_of(
    st.integers(-(2**70), 2**70), st.integers(2**63 - 2, 2**63 + 2), st.just(2**64)
)
well_formed = st.builds(
    lambda when, pk: _b64(f"{when.isoformat()}|{pk}".encode()), aware, row_numbers
)
cursors = st.one_of(
    st.text(max_size=80),
    st.binary(max_size=60).map(_b64),
    st.text(max_size=60).map(lambda t: _b64(t.encode())),
    well_formed,
)


@PROPERTIES
@given(cursor=cursors)
@example(cursor=_b64(f"2026-01-01T00:00:00+00:00|{2**63}".encode()))
@example(cursor=_b64(f"2026-01-01T00:00:00+00:00|{2**64 + 5}".encode()))
@example(cursor=_b64(b"0001-01-01T00:00:00+14:00|1"))
@example(cursor=_b64(b"9999-12-31T23:59:59-14:00|1"))
@example(cursor=_b64(b"2026-01-01T00:00:00|1"))
@example(cursor=_b64("2026-01-01T00:00:00+00:00|\u0661".encode()))
def test_any_cursor_is_a_page_or_a_400(client: httpx.Client, cursor: str) -> None:
    """A cursor is either one the server could have handed out (a page, 200) or a 400 problem
    saying to start again; a row number of 2^63 or more, a time that overflows in UTC or one
    without an offset is never sent to the database."""
    response = client.get(CAPTURES_PATH, params={"cursor": cursor})
    if response.status_code == 200:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, pk = raw.split("|")
        assert 0 <= int(pk) < 2**63
        assert _in_utc(datetime.fromisoformat(when)) is not None
        return
    body = assert_problem(response, 400, ProblemType.VALIDATION)
    assert "cursor" in body["detail"]
