"""Text extraction and search on the real server: real OCR of rendered screens, on SQLite and
PostgreSQL; the queue's durability, retries and failures; deletion; who sees what; bad queries."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from jarvis_contract import SEARCH_PATH, ProblemType, SearchPage
from jarvis_server.core.db import parse_database_url
from tests.integration.server.conftest import Device, files_of
from tests.integration.server.problems import assert_problem
from tests.integration.server.uploads import make_capture, upload
from tests.support.screens import Screen, text_screen
from tests.support.server import LiveServer

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
_WAIT = 180.0  # generous: OCR of a small screen takes ~0.2 s, but the machine may be loaded


def _wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + _WAIT
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


def _text_health(server: LiveServer) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/health/text", timeout=10)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _drained(server: LiveServer) -> None:
    _wait_for(lambda: _text_health(server)["pending"] == 0, "the text queue to drain")


def _search(server: LiveServer, token: str, q: str, **params: str) -> SearchPage:
    with server.client(token) as client:
        response = client.get(SEARCH_PATH, params={"q": q, **params})
    assert response.status_code == 200, response.text
    return SearchPage.model_validate_json(response.content)


def _store(server: LiveServer, token: str, screen: Screen, **meta: Any) -> str:
    capture = make_capture(screen.encode("PNG"), mime="image/png", **meta)
    with server.client(token) as client:
        assert upload(client, capture).status_code == 201
    return capture.id


def _db(server: LiveServer, sql: str) -> Any:
    """One value from the server's own database (SQLite file or PostgreSQL)."""
    url = server.env.get("JARVIS_DATABASE_URL") or f"sqlite:///{server.home}/server/jarvis.db"

    async def run() -> Any:
        engine = create_async_engine(parse_database_url(url))
        try:
            async with engine.connect() as conn:
                return (await conn.execute(text(sql))).scalar()
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _children(pid: int) -> list[int]:
    """Process ids whose parent is `pid` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat from field 3 (state) on; [] once the process is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return bool(fields) and fields[0] != "Z"


def _overlaps(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def test_search_finds_read_words_with_snippet_marks_and_boxes(
    shared_server: LiveServer, new_device: Callable[[], Device]
) -> None:
    """Words read from the image are found (light and dark ground, any case, diacritics folded,
    phrases, prefixes, app filter); the snippet marks the match and the box lies on the word."""
    device = new_device()
    light = text_screen(["quarterly invoice for Zoë museum", "kubernetes deployment pending"])
    dark = text_screen(["terminal session expired", "invoice overdue reminder"], dark=True)
    light_id = _store(shared_server, device.token, light, captured_at=T0, app_name="Firefox")
    dark_id = _store(shared_server, device.token, dark, captured_at=T0 + timedelta(minutes=1))
    _drained(shared_server)

    hits = _search(shared_server, device.token, "INVOICE").items
    assert [str(h.capture.id) for h in hits] == [dark_id, light_id]  # newest first
    light_hit = hits[1]
    assert light_hit.capture.app_name == "Firefox"
    [(start, end)] = light_hit.snippet_marks
    assert light_hit.snippet[start:end].lower() == "invoice"
    [box] = light_hit.boxes
    assert _overlaps((box.x, box.y, box.w, box.h), light.box_of("invoice"))

    assert [str(h.capture.id) for h in _search(shared_server, device.token, "zoe").items] == [
        light_id
    ]
    phrase = _search(shared_server, device.token, '"kubernetes deployment"').items
    assert [str(h.capture.id) for h in phrase] == [light_id]
    assert len(phrase[0].boxes) == 2
    assert _search(shared_server, device.token, '"deployment kubernetes"').items == []
    prefix = _search(shared_server, device.token, "remind*").items
    assert [str(h.capture.id) for h in prefix] == [dark_id]
    by_app = _search(shared_server, device.token, "invoice app:firefox").items
    assert [str(h.capture.id) for h in by_app] == [light_id]
    assert _search(shared_server, device.token, "invoice nowhereword").items == []


def test_pages_walk_hits_newest_first_and_filters_apply(
    shared_server: LiveServer, new_device: Callable[[], Device]
) -> None:
    """Cursor pages of 2 return every hit once, newest first; since/until bound the time."""
    device = new_device()
    ids = [
        _store(
            shared_server,
            device.token,
            text_screen([f"weather forecast number {i}"]),
            captured_at=T0 + timedelta(hours=i),
        )
        for i in range(5)
    ]
    _drained(shared_server)
    seen: list[str] = []
    params: dict[str, str] = {"limit": "2"}
    while True:
        page = _search(shared_server, device.token, "forecast", **params)
        seen += [str(h.capture.id) for h in page.items]
        if page.next_cursor is None:
            break
        params["cursor"] = page.next_cursor
    assert seen == ids[::-1]
    bounded = _search(
        shared_server,
        device.token,
        "forecast",
        since=(T0 + timedelta(hours=1)).isoformat(),
        until=(T0 + timedelta(hours=3)).isoformat(),
    )
    assert [str(h.capture.id) for h in bounded.items] == [ids[2], ids[1]]


def test_late_uploads_sort_by_capture_time_and_pages_cross_them(
    shared_server: LiveServer, new_device: Callable[[], Device]
) -> None:
    """Captures uploaded late (after being offline) sort by when they were taken, not when they
    arrived; two taken in the same millisecond both appear; cursor pages of 1 walk them all
    once, newest first; far-off time bounds are 200, never a 500."""
    device = new_device()
    screen = text_screen(["harbour ferry timetable"])
    at = {
        "noon": T0 + timedelta(hours=3),
        "evening": T0 + timedelta(hours=9),
        "morning": T0 + timedelta(hours=1),  # uploaded last, taken first
        "twin": T0 + timedelta(hours=3, microseconds=400),  # same millisecond as noon
        "afternoon": T0 + timedelta(hours=5),
    }
    ids = {
        name: _store(shared_server, device.token, screen, captured_at=when)
        for name, when in at.items()
    }
    _drained(shared_server)
    same_ms = {ids["noon"], ids["twin"]}

    whole = [str(h.capture.id) for h in _search(shared_server, device.token, "ferry").items]
    assert [whole[0], whole[1], *whole[4:]] == [ids["evening"], ids["afternoon"], ids["morning"]]
    assert set(whole[2:4]) == same_ms

    seen: list[str] = []
    params: dict[str, str] = {"limit": "1"}
    while True:
        page = _search(shared_server, device.token, "ferry", **params)
        seen += [str(h.capture.id) for h in page.items]
        if page.next_cursor is None:
            break
        params["cursor"] = page.next_cursor
    assert seen == whole
    assert len(seen) == len(at)

    morning_only = _search(
        shared_server,
        device.token,
        "ferry",
        since=at["morning"].isoformat(),
        until=at["noon"].isoformat(),
    )
    assert [str(h.capture.id) for h in morning_only.items] == [ids["morning"]]
    far = _search(
        shared_server,
        device.token,
        "ferry",
        since="0001-01-01T00:00:00Z",
        until="9999-12-31T00:00:00Z",
    )
    assert [str(h.capture.id) for h in far.items] == whole


def test_devices_find_only_their_own_captures(
    shared_server: LiveServer, new_device: Callable[[], Device]
) -> None:
    """A device's search never returns another device's capture, and asking for another
    device is 403; an admin token finds both and may filter by device."""
    mine, theirs = new_device(), new_device()
    screen = text_screen(["confidential salmon recipe"])
    my_id = _store(shared_server, mine.token, screen)
    their_id = _store(shared_server, theirs.token, screen)
    _drained(shared_server)
    assert [str(h.capture.id) for h in _search(shared_server, mine.token, "salmon").items] == [
        my_id
    ]
    with shared_server.client(mine.token) as client:
        response = client.get(SEARCH_PATH, params={"q": "salmon", "device": theirs.name})
    assert_problem(response, 403, ProblemType.FORBIDDEN)
    admin = shared_server.admin_token()
    found = {str(h.capture.id) for h in _search(shared_server, admin, "salmon").items}
    assert {my_id, their_id} <= found
    only = _search(shared_server, admin, "salmon", device=theirs.name).items
    assert [str(h.capture.id) for h in only] == [their_id]
    with httpx.Client(base_url=shared_server.url) as anonymous:
        assert anonymous.get(SEARCH_PATH, params={"q": "salmon"}).status_code == 401


@pytest.mark.parametrize(
    "query",
    ['"', 'invoice "open', "*", "a*", "x" * 501, "bad\x00byte", "app:", '"" ', "-", "()"],
)
def test_bad_queries_get_a_problem_naming_what_is_wrong(
    shared_server: LiveServer, laptop: Device, query: str
) -> None:
    """Unbalanced quotes, bare or short prefixes, over-long queries, control characters and
    queries without a word are 422 problem documents, never a 500."""
    with shared_server.client(laptop.token) as client:
        response = client.get(SEARCH_PATH, params={"q": query})
    assert_problem(response, 422, ProblemType.BAD_QUERY)


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    ["%%%", _b64("k12x"), _b64("k" + "9" * 30), _b64("k-"), _b64("2026-05-04T09:00:00+00:00|5")],
)
def test_cursors_the_server_did_not_hand_out_are_a_400(
    shared_server: LiveServer, laptop: Device, cursor: str
) -> None:
    """A cursor that is not a position this server handed out (garbage, out of range, an
    earlier format) is a 400 problem document saying to start again, never a 500."""
    with shared_server.client(laptop.token) as client:
        response = client.get(SEARCH_PATH, params={"q": "invoice", "cursor": cursor})
    assert_problem(response, 400, ProblemType.VALIDATION)


@pytest.mark.parametrize(
    "query", ["NEAR(", "a OR", "NOT invoice", "invoice AND", "col:invoice", "^start", "a-b"]
)
def test_search_syntax_of_the_engines_is_just_words(
    shared_server: LiveServer, laptop: Device, query: str
) -> None:
    """FTS5's and tsquery's operators in a query are searched as words: 200, never a 500."""
    with shared_server.client(laptop.token) as client:
        response = client.get(SEARCH_PATH, params={"q": query})
    assert response.status_code == 200, response.text


def test_queue_survives_restart_and_reads_each_capture_once(server: LiveServer) -> None:
    """Captures stored while extraction is off wait in the queue across a restart and are read
    when it is on; a further restart reads nothing again."""
    server.stop()
    server.env["JARVIS_TEXT_EXTRACTION"] = "false"
    server.start()
    token = server.create_token("desk")
    capture_id = _store(server, token, text_screen(["garden tomato harvest"]))
    assert _text_health(server)["pending"] == 1
    assert _search(server, token, "tomato").items == []
    server.stop()
    server.env["JARVIS_TEXT_EXTRACTION"] = "true"
    server.start()
    _drained(server)
    assert [str(h.capture.id) for h in _search(server, token, "tomato").items] == [capture_id]
    read_at = _db(server, "SELECT extracted_at FROM capture_text")
    server.stop()
    server.start()
    assert _text_health(server) | {"version": None} == {
        "status": "ok",
        "version": None,
        "extraction": True,
        "pending": 0,
        "failed": 0,
        "detail": None,
    }
    assert _db(server, "SELECT count(*) FROM capture_text") == 1
    assert _db(server, "SELECT extracted_at FROM capture_text") == read_at


def test_unreadable_capture_is_retried_then_marked_failed_without_blocking(
    server: LiveServer,
) -> None:
    """A capture whose image cannot be read is retried with backoff, then marked failed,
    reported by /health/text and logged; the captures after it are read all the same."""
    server.stop()
    server.env["JARVIS_TEXT_EXTRACTION"] = "false"
    server.start()
    token = server.create_token("desk")
    broken_id = _store(server, token, text_screen(["never readable"]), captured_at=T0)
    good_id = _store(server, token, text_screen(["pepper onion garlic"]))
    [broken_file] = files_of(server, broken_id)
    broken_file.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)  # damaged on disk
    server.stop()
    server.env |= {
        "JARVIS_TEXT_EXTRACTION": "true",
        "JARVIS_TEXT_RETRY_SECONDS": "0.2",
        "JARVIS_TEXT_MAX_ATTEMPTS": "3",
    }
    server.start()
    _wait_for(lambda: _text_health(server)["failed"] == 1, "the broken capture to be failed")
    health = _text_health(server)
    assert (health["status"], health["pending"]) == ("degraded", 0)
    assert "could not be read" in health["detail"]
    assert _db(server, "SELECT attempts FROM text_queue") == 3
    assert "cannot be decoded" in _db(server, "SELECT last_error FROM text_queue")
    assert [str(h.capture.id) for h in _search(server, token, "garlic").items] == [good_id]
    assert "text extraction failed for good" in server.log_tail(200)


def test_deleting_a_capture_deletes_its_text_and_index_entry(server: LiveServer) -> None:
    """A capture removed by the server's own delete path (`storage purge-missing`) takes its
    text, boxes, queue row and full-text index entry with it."""
    token = server.create_token("desk")
    gone_id = _store(server, token, text_screen(["archive journal chapter"]), captured_at=T0)
    kept_id = _store(server, token, text_screen(["archive library novel"]))
    _drained(server)
    assert len(_search(server, token, "archive").items) == 2
    server.stop()
    [file] = files_of(server, gone_id)
    file.unlink()
    server.start()  # marks the capture missing
    done = server.cli("storage", "purge-missing", "--yes")
    assert "deleted 1 capture" in done.stderr
    assert [str(h.capture.id) for h in _search(server, token, "archive").items] == [kept_id]
    assert _search(server, token, "journal").items == []
    assert _db(server, "SELECT count(*) FROM capture_text") == 1
    assert _db(server, "SELECT count(*) FROM text_queue") == 0
    if "JARVIS_DATABASE_URL" not in server.env:
        # The FTS5 index itself, not only its content table, forgot the words.
        assert (
            _db(server, "SELECT count(*) FROM capture_fts WHERE capture_fts MATCH 'journal'") == 0
        )


def test_missing_language_data_is_refused_at_start(
    server_factory: Callable[..., LiveServer],
) -> None:
    """A language without installed traineddata stops `serve` with a message naming the
    setting and the package to install."""
    with pytest.raises(Exception, match=r"tesseract-ocr-klingon") as raised:
        server_factory(env={"JARVIS_TEXT_LANGUAGES": "eng+klingon"})
    assert "JARVIS_TEXT_LANGUAGES" in str(raised.value)


def test_ocr_process_ends_with_the_server(server: LiveServer) -> None:
    """The OCR process runs at the lowest CPU priority and ends when the server stops, or is
    killed: no orphan is left waiting for work."""
    token = server.create_token("desk")
    _store(server, token, text_screen(["backup restore"]))
    _drained(server)
    assert server.process is not None
    children = _children(server.process.pid)
    niced = [pid for pid in children if _stat(pid)[16] == "19"]  # field 19: nice
    assert niced, "no OCR process at nice 19"
    server.stop()
    _wait_for(lambda: not any(_alive(pid) for pid in niced), "the OCR process to end on stop")
    server.start()
    _store(server, token, text_screen(["firewall router"]))
    _drained(server)
    assert server.process is not None
    children = _children(server.process.pid)
    server.kill()
    _wait_for(lambda: not any(_alive(pid) for pid in children), "the OCR process to end on kill")


# A server that starts its OCR process as the text worker does, for one capture, and is killed
# (exits at once, no clean-up) while that process is still starting; it writes the process's pid.
_KILLED_WHILE_STARTING = """
import os, sys
from pathlib import Path
from jarvis_server.core.config import Settings
from jarvis_server.ocr import read_in_child
from jarvis_server.textqueue import TextWorker

pool = TextWorker(None, None, Settings(), "sqlite")._pool()
pool.submit(read_in_child, b"")
Path(sys.argv[1]).write_text(" ".join(map(str, pool._processes)))
os._exit(0)
"""


def test_ocr_process_started_after_its_server_died_ends(tmp_path: Path) -> None:
    """A server killed (kill -9) while its OCR process was still starting: PR_SET_PDEATHSIG,
    set after the death, never fires, so the process checks at start that its server is still
    its parent and ends, instead of waiting for work forever (found after a full test run: the
    replica test's killed worker had left one behind)."""
    pids = tmp_path / "ocr-pid"
    subprocess.run(
        [sys.executable, "-c", _KILLED_WHILE_STARTING, str(pids)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=True,
        timeout=120,
    )
    (orphan,) = map(int, pids.read_text().split())
    try:
        _wait_for(lambda: not _alive(orphan), "the orphaned OCR process to end")
    finally:
        if _alive(orphan):
            os.kill(orphan, signal.SIGKILL)
