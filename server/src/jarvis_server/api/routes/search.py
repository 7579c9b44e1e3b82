"""/api/v1/search: captures whose text matches a query, newest first, with where it matched."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query
from sqlalchemy import Select, column, func, literal_column, or_, select, table, text
from sqlalchemy.orm import selectinload
from sqlalchemy.sql import ColumnElement

from jarvis_contract import SEARCH_PATH, ProblemType, SearchHit, SearchPage, TextBox, UtcDatetime
from jarvis_server.api.deps import CallerDep, SessionDep, StateDep
from jarvis_server.api.openapi_docs import problems
from jarvis_server.auth import Caller
from jarvis_server.models import Capture, CaptureText, Device
from jarvis_server.pgsearch import Matching, key_conditions, newest_hits, plan_search
from jarvis_server.problems import ProblemError
from jarvis_server.records import to_record
from jarvis_server.searchkey import key_after, key_floor, within_millisecond
from jarvis_server.textquery import (
    MAX_QUERY_CHARS,
    QueryError,
    SearchQuery,
    highlight,
    parse_query,
    to_fts5,
)

router = APIRouter(prefix=SEARCH_PATH, tags=["search"])

_fts = table("capture_fts", column("rowid"))
_MAX_KEY: Final = 2**63 - 1
_SEARCH_SETTINGS: Final = (
    "SELECT set_config('plan_cache_mode', 'force_custom_plan', true), "
    "set_config('jit', 'off', true), set_config('max_parallel_workers_per_gather', '0', true)"
)
_QUERY_HELP: Final = (
    'Words to find, all of them: `invoice 2026`, a phrase in quotes `"quarterly report"`, a '
    "prefix `invo*`, and `app:firefox` (a part of the app's name; several are alternatives). "
    f"At most {MAX_QUERY_CHARS} characters."
)


def _bad_query(why: str) -> ProblemError:
    return ProblemError(422, ProblemType.BAD_QUERY, "Bad search query", f"{why}.")


def _bad_cursor(why: str) -> ProblemError:
    return ProblemError(
        400,
        ProblemType.VALIDATION,
        "Bad cursor",
        f"The cursor is not one this server handed out ({why}); start again without it.",
    )


def _encode_cursor(key: int) -> str:
    return base64.urlsafe_b64encode(f"k{key}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    """The sort key of the last hit of the previous page (see jarvis_server.searchkey)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise _bad_cursor("it does not decode to a position") from None
    digits = raw[1:].removeprefix("-")
    if not raw.startswith("k") or not (digits.isascii() and digits.isdigit()):
        raise _bad_cursor("it does not decode to a position")
    key = int(raw[1:])
    if not -_MAX_KEY <= key <= _MAX_KEY:
        raise _bad_cursor("its position is not one of this server's")
    return key


def _sqlite_matching(query: SearchQuery) -> tuple[Select[Capture, str, str, int], Any]:
    """The matching captures, and the sort key column to walk them newest first by.

    FTS5 yields its rowids (the sort keys) in descending order and stops at the LIMIT, so the
    join runs only for the hits on the page (and those that other filters drop); it checks
    phrases against the positions in its own index."""
    key = _fts.c.rowid
    base = (
        select(Capture, CaptureText.text, CaptureText.boxes, key)
        .select_from(_fts)
        .join(CaptureText, CaptureText.sort_key == key)
        .join(Capture, Capture.pk == CaptureText.capture_pk)
        .where(text("capture_fts MATCH :match").bindparams(match=to_fts5(query)))
    )
    return base, key


def _boxes_of(boxes_json: str, words: list[int]) -> list[TextBox]:
    """The boxes of the matched words. Each capture holds one box per word (hundreds), a hit
    shows a few: the compact array the text worker writes is split, and only those parsed."""
    if not words:
        return []
    if boxes_json.startswith("[[") and boxes_json.endswith("]]"):
        parts = boxes_json[2:-2].split("],[")
        try:
            picked = [[int(v) for v in parts[i].split(",")] for i in words if i < len(parts)]
        except ValueError:  # not the worker's compact form: read it whole
            pass
        else:
            if all(len(b) == 4 for b in picked):
                # Ints parsed here: nothing left for pydantic to check (~1 µs a box, hundreds
                # of boxes a page for common words).
                return [TextBox.model_construct(x=b[0], y=b[1], w=b[2], h=b[3]) for b in picked]
    boxes = json.loads(boxes_json)
    return [
        TextBox(x=b[0], y=b[1], w=b[2], h=b[3])
        for i in words
        if i < len(boxes)
        for b in (boxes[i],)
    ]


def _restrict(caller: Caller, device: str | None) -> Any:
    if not caller.admin:
        if device is not None and device != caller.device:
            raise ProblemError(
                403,
                ProblemType.FORBIDDEN,
                "Not your device",
                "A device token searches only its own captures; use an admin token for others.",
            )
        return Capture.device_id == caller.device_id
    if device is not None:
        return Capture.device_id == (
            select(Device.id).where(Device.name == device).scalar_subquery()
        )
    return None


@router.get(
    "",
    summary="Search the text of captures, newest first",
    response_model=SearchPage,
    responses={
        **problems(400, 401, 403, 503),
        422: {"description": "The query cannot be searched; the detail says what to change"},
    },
)
async def search(
    session: SessionDep,
    state: StateDep,
    caller: CallerDep,
    q: Annotated[str, Query(description=_QUERY_HELP)],
    device: Annotated[str | None, Query(description="Only this device's captures.")] = None,
    since: Annotated[
        UtcDatetime | None, Query(description="Captured at or after (RFC 3339).")
    ] = None,
    until: Annotated[UtcDatetime | None, Query(description="Captured before (RFC 3339).")] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> SearchPage:
    """Captures the caller may read (its own; with an admin token everyone's) whose text holds
    every word of `q`; each hit has a plain-text snippet with the matches' offsets and the
    matched words' boxes in image pixels."""
    try:
        parsed = parse_query(q)
    except QueryError as exc:
        raise _bad_query(str(exc)) from None
    who = _restrict(caller, device)
    # Time bounds on the sort key, which the index walk starts and stops by; the key is to the
    # millisecond, so a bound within a millisecond is also checked exactly on captured_at. Only
    # then: both ranges together led PostgreSQL to expect a handful of hits out of a day of
    # captures and to hash-join the whole day (60-85 ms at 1M) rather than stop at the page.
    bounds: list[tuple[str, int]] = []
    exact: list[ColumnElement[bool]] = []
    if since is not None:
        bounds.append((">=", key_floor(since)))
        if within_millisecond(since):
            exact.append(Capture.captured_at >= since.astimezone(UTC))
    if until is not None:
        bounds.append(("<", key_after(until)))
        if within_millisecond(until):
            exact.append(Capture.captured_at < until.astimezone(UTC))
    if cursor is not None:
        bounds.append(("<", _decode_cursor(cursor)))
    apps: ColumnElement[bool] | None = None
    if parsed.apps:
        # '' as a literal: PostgreSQL matches this expression to its statistics (migration
        # 0007) only when it is written exactly so.
        name = func.lower(func.coalesce(Capture.app_name, literal_column("''")))
        apps = or_(*(name.contains(app, autoescape=True) for app in parsed.apps))
    filters = [*(f for f in (who, apps) if f is not None), *exact]

    async def page(matching: Matching, rows: int, keys: bool = False) -> list[Any]:
        query, key = matching
        query = query.where(*filters).order_by(key.desc()).limit(rows)
        if keys:
            return list((await session.execute(query.with_only_columns(key))).scalars())
        # The device names in a second query: joined into this one (the relation's default),
        # the one-row devices table led SQLite's plan, FTS5 became the inner loop, and every
        # match was read and sorted instead of the newest few (350 ms for two common words at
        # 100k captures).
        query = query.options(selectinload(Capture.device))
        return list((await session.execute(query)).all())

    if session.get_bind().dialect.name == "sqlite":
        query, key = _sqlite_matching(parsed)
        rows = await page((query.where(*key_conditions(key, bounds)), key), limit + 1)
    else:
        # Planned for the words asked each time: a prepared statement's generic plan knows no
        # word's or app's frequency and took 0.8 s where the words' own plan takes 5 ms (1M).
        # No JIT and no parallel workers: the pairs' index expression is costed high (it is
        # never to be computed per row), and a phrase whose hits took 1.4 ms to read took
        # 10-30 ms more to compile, and 6-9 ms more to start two workers.
        await session.execute(text(_SEARCH_SETTINGS))
        plan = await plan_search(session, parsed, limit, state.settings.search_plan)
        rows = await newest_hits(session, parsed, plan, bounds, apps, limit, page)
    more = len(rows) > limit
    rows = rows[:limit]
    items: list[SearchHit] = []
    for capture, body, boxes_json, _ in rows:
        found = highlight(body, parsed)
        items.append(
            SearchHit(
                capture=to_record(capture),
                snippet=found.snippet,
                snippet_marks=found.marks,
                boxes=_boxes_of(boxes_json, found.words),
            )
        )
    return SearchPage(
        items=items, next_cursor=_encode_cursor(rows[-1][3]) if more and rows else None
    )
