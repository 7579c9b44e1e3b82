"""Deleting captures through the API: one by id, or a device's time range; file and row go."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from jarvis_contract import CAPTURES_PATH, DELETE_RANGE_PATH, ProblemType
from tests.integration.server.conftest import Device, files_of, records_of
from tests.integration.server.problems import assert_problem
from tests.integration.server.uploads import Capture, make_capture, upload
from tests.support.server import LiveServer

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def _store(server: LiveServer, device: Device, captures: list[Capture]) -> None:
    with server.client(device.token) as client:
        for capture in captures:
            assert upload(client, capture).status_code == 201


def _gone(server: LiveServer, capture: Capture) -> bool:
    return not records_of(server, capture.id) and not files_of(server, capture.id)


def _kept(server: LiveServer, capture: Capture) -> bool:
    return len(records_of(server, capture.id)) == 1 and len(files_of(server, capture.id)) == 1


def test_delete_one_removes_row_and_file_and_repeats_harmlessly(
    shared_server: LiveServer, new_device: Callable[[], Device]
) -> None:
    """DELETE /captures/{id} answers {"deleted": 1}, the record and its image file are gone,
    the neighbour stays; a second DELETE answers 404 and changes nothing."""
    device = new_device()
    doomed, kept = make_capture(captured_at=T0), make_capture(captured_at=T0)
    _store(shared_server, device, [doomed, kept])
    with shared_server.client(device.token) as client:
        response = client.delete(f"{CAPTURES_PATH}/{doomed.id}")
        assert response.status_code == 200, response.text
        assert response.json() == {"deleted": 1}
        assert _gone(shared_server, doomed)
        assert _kept(shared_server, kept)
        assert_problem(client.get(f"{CAPTURES_PATH}/{doomed.id}"), 404, ProblemType.NOT_FOUND)
        again = client.delete(f"{CAPTURES_PATH}/{doomed.id}")
        assert_problem(again, 404, ProblemType.NOT_FOUND)
    assert _kept(shared_server, kept)


def test_a_device_cannot_delete_another_devices_capture(
    shared_server: LiveServer, new_device: Callable[[], Device]
) -> None:
    """Another device's capture id answers 404, exactly like a missing one, and stays; naming
    another device in a range delete is 403; an admin may delete any device's capture."""
    mine, theirs = new_device(), new_device()
    their_capture = make_capture(captured_at=T0)
    _store(shared_server, theirs, [their_capture])
    with shared_server.client(mine.token) as client:
        missing = client.delete(f"{CAPTURES_PATH}/{make_capture().id}")
        foreign = client.delete(f"{CAPTURES_PATH}/{their_capture.id}")
        assert_problem(foreign, 404, ProblemType.NOT_FOUND)
        assert foreign.json()["title"] == missing.json()["title"]
        ranged = client.post(
            DELETE_RANGE_PATH,
            json={
                "device": theirs.name,
                "since": (T0 - timedelta(days=1)).isoformat(),
                "until": (T0 + timedelta(days=1)).isoformat(),
            },
        )
        assert_problem(ranged, 403, ProblemType.FORBIDDEN)
    assert _kept(shared_server, their_capture)
    with shared_server.client(shared_server.admin_token()) as admin:
        assert admin.delete(f"{CAPTURES_PATH}/{their_capture.id}").json() == {"deleted": 1}
    assert _gone(shared_server, their_capture)


def test_range_delete_takes_exactly_the_range_and_counts(
    shared_server: LiveServer, new_device: Callable[[], Device]
) -> None:
    """POST /captures/delete removes the device's captures in [since, until) and answers how
    many; captures outside it and other devices' captures in it stay; repeating answers 0."""
    device, other = new_device(), new_device()
    times = [T0 + timedelta(minutes=m) for m in range(6)]
    captures = [make_capture(captured_at=t) for t in times]
    other_capture = make_capture(captured_at=times[2])
    _store(shared_server, device, captures)
    _store(shared_server, other, [other_capture])
    body = {"since": times[1].isoformat(), "until": times[4].isoformat()}
    with shared_server.client(device.token) as client:
        response = client.post(DELETE_RANGE_PATH, json=body)
        assert response.status_code == 200, response.text
        assert response.json() == {"deleted": 3}
        assert client.post(DELETE_RANGE_PATH, json=body).json() == {"deleted": 0}
    assert all(_gone(shared_server, c) for c in captures[1:4])
    assert all(_kept(shared_server, c) for c in [captures[0], *captures[4:], other_capture])


def test_range_delete_refuses_unclear_requests(
    shared_server: LiveServer, new_device: Callable[[], Device]
) -> None:
    """No bounds, an empty range, or an admin naming no device: 400 with a problem document,
    and nothing is deleted."""
    device = new_device()
    capture = make_capture(captured_at=T0)
    _store(shared_server, device, [capture])
    since, until = T0 - timedelta(hours=1), T0 + timedelta(hours=1)
    with shared_server.client(device.token) as client:
        no_until = client.post(DELETE_RANGE_PATH, json={"since": since.isoformat()})
        assert_problem(no_until, 400, ProblemType.VALIDATION)
        backwards = client.post(
            DELETE_RANGE_PATH, json={"since": until.isoformat(), "until": since.isoformat()}
        )
        assert_problem(backwards, 400, ProblemType.VALIDATION)
    with shared_server.client(shared_server.admin_token()) as admin:
        response = admin.post(
            DELETE_RANGE_PATH, json={"since": since.isoformat(), "until": until.isoformat()}
        )
        assert_problem(response, 400, ProblemType.VALIDATION)
    assert _kept(shared_server, capture)
