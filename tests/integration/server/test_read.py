"""Reading captures back: list with filters and cursor pages, one record, its image; who may."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from jarvis_contract import CAPTURES_PATH, CapturePage, CaptureRecord, ProblemType
from tests.integration.server.conftest import Device
from tests.integration.server.problems import assert_problem
from tests.integration.server.uploads import Capture, make_capture, make_image, upload
from tests.support.server import LiveServer

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _store(server: LiveServer, device: Device, captures: list[Capture]) -> None:
    with server.client(device.token) as client:
        for capture in captures:
            assert upload(client, capture).status_code == 201


def _pages(server: LiveServer, token: str, **params: str) -> list[CapturePage]:
    pages: list[CapturePage] = []
    with server.client(token) as client:
        while True:
            response = client.get(CAPTURES_PATH, params=params)
            assert response.status_code == 200, response.text
            pages.append(CapturePage.model_validate_json(response.content))
            if pages[-1].next_cursor is None:
                return pages
            params["cursor"] = pages[-1].next_cursor


def test_cursor_pages_walk_every_capture_once_in_time_order(
    shared_server: LiveServer, new_device: Callable[[], Device]
) -> None:
    """Pages of 2 return all 5 captures once, oldest first, even with equal timestamps."""
    device = new_device()
    times = [T0 + timedelta(minutes=m) for m in (3, 1, 2, 2, 0)]
    captures = [make_capture(captured_at=t) for t in times]
    _store(shared_server, device, captures)
    pages = _pages(shared_server, device.token, limit="2")
    assert [len(p.items) for p in pages] == [2, 2, 1]
    items = [r for p in pages for r in p.items]
    assert [r.captured_at for r in items] == sorted(times)
    assert sorted(str(r.id) for r in items) == sorted(c.id for c in captures)


def test_time_range_filters(shared_server: LiveServer, new_device: Callable[[], Device]) -> None:
    """`since` is inclusive, `until` exclusive; offsets other than UTC are understood."""
    device = new_device()
    captures = [make_capture(captured_at=T0 + timedelta(hours=h)) for h in range(4)]
    _store(shared_server, device, captures)
    since = (T0 + timedelta(hours=1)).astimezone(timezone(timedelta(hours=2)))
    until = T0 + timedelta(hours=3)
    [page] = _pages(shared_server, device.token, since=since.isoformat(), until=until.isoformat())
    assert [str(r.id) for r in page.items] == [captures[1].id, captures[2].id]


def test_devices_see_only_their_own_captures(
    shared_server: LiveServer, new_device: Callable[[], Device]
) -> None:
    """A device token lists and reads only its own captures: another's id is 404 (not 403, so
    nothing leaks), filtering for another device is 403; an admin token reads everything."""
    mine, theirs = new_device(), new_device()
    a, b = make_capture(captured_at=T0), make_capture(captured_at=T0)
    _store(shared_server, mine, [a])
    _store(shared_server, theirs, [b])
    listed = [r for p in _pages(shared_server, mine.token) for r in p.items]
    assert [str(r.id) for r in listed] == [a.id]
    with shared_server.client(mine.token) as client:
        assert client.get(f"{CAPTURES_PATH}/{a.id}").status_code == 200
        assert_problem(client.get(f"{CAPTURES_PATH}/{b.id}"), 404, ProblemType.NOT_FOUND)
        assert_problem(client.get(f"{CAPTURES_PATH}/{b.id}/image"), 404, ProblemType.NOT_FOUND)
        response = client.get(CAPTURES_PATH, params={"device": theirs.name})
        assert_problem(response, 403, ProblemType.FORBIDDEN)
    admin = shared_server.admin_token()
    by_admin = [r for p in _pages(shared_server, admin, device=theirs.name) for r in p.items]
    assert [str(r.id) for r in by_admin] == [b.id]
    with shared_server.client(admin) as client:
        record = CaptureRecord.model_validate_json(client.get(f"{CAPTURES_PATH}/{b.id}").content)
    assert record.device == theirs.name


def test_get_one_and_its_image(shared_server: LiveServer, laptop: Device) -> None:
    """GET one returns the stored record; /image returns the exact bytes with their type."""
    capture = make_capture(make_image("image/png"), mime="image/png")
    _store(shared_server, laptop, [capture])
    with shared_server.client(laptop.token) as client:
        record = client.get(f"{CAPTURES_PATH}/{capture.id}")
        image = client.get(f"{CAPTURES_PATH}/{capture.id}/image")
    assert record.status_code == 200
    assert record.json()["sha256"] == capture.meta["sha256"]
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content == capture.data


def test_unknown_capture_and_bad_parameters(shared_server: LiveServer, laptop: Device) -> None:
    """404 for an unknown id; 400 problem documents for a non-UUID id, a bad cursor, a limit out
    of range and a time without offset."""
    with shared_server.client(laptop.token) as client:
        missing = make_capture().id
        assert_problem(client.get(f"{CAPTURES_PATH}/{missing}"), 404, ProblemType.NOT_FOUND)
        assert_problem(client.get(f"{CAPTURES_PATH}/not-a-uuid"), 400, ProblemType.VALIDATION)
        for params in (
            {"cursor": "garbage!"},
            {"limit": "0"},
            {"limit": "100000"},
            {"since": "2026-01-01T00:00:00"},
        ):
            response = client.get(CAPTURES_PATH, params=params)
            assert_problem(response, 400, ProblemType.VALIDATION)


def test_reading_needs_a_token(shared_server: LiveServer) -> None:
    """401 for every read endpoint without a token."""
    with shared_server.client() as client:
        for path in (CAPTURES_PATH, f"{CAPTURES_PATH}/{make_capture().id}"):
            assert_problem(client.get(path), 401, ProblemType.UNAUTHORIZED)
