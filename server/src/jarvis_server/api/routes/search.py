"""/api/v1/search: captures whose text matches a query, newest first, with where it matched."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import UTC
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query
from sqlalchemy import Select, TextClause, column, func, literal_column, or_, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.sql import ColumnElement, Subquery

from jarvis_contract import SEARCH_PATH, ProblemType, SearchHit, SearchPage, TextBox, UtcDatetime
from jarvis_server.api.deps import CallerDep, SessionDep, StateDep
from jarvis_server.api.openapi_docs import problems
from jarvis_server.auth import Caller
from jarvis_server.models import Capture, CaptureText, Device
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
    to_tsquery,
    words_of,
)

router = APIRouter(prefix=SEARCH_PATH, tags=["search"])

_fts = table("capture_fts", column("rowid"))
_MAX_KEY: Final = 2**63 - 1
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


# PostgreSQL's two ways to the newest hits. A walk reads the sort-key btree backwards and checks
# each capture's tsvector (read out of line, ~15 µs) until the page is full: cheap when many
# captures match, ruinous for a rare word (thousands checked for 21 hits). A gather takes every
# capture holding all the words from the GIN index (~6 µs each: a thin heap row, see migration
# 0007), sorts them by sort key, and checks phrases only down the sorted list until the page is
# full. The words' GIN index has no positions; a phrase of two words or more is also asked of
# the index of neighbouring words' pairs (migration 0008), which yields nearly only the captures
# holding it. A phrase without pairs (one word and a prefix, "quarterly rep*") is found by its
# words, and _PHRASE_SHARE is our guess of how often words found together are in order (~1 % in
# the benchmark's Zipf text, more in real text, where phrases are made of words that go together).
_WALK_COST: Final = 2.5  # a walked capture against a gathered one
_PHRASE_SHARE: Final = 0.02
# A prefix's estimate is PostgreSQL's guess of 0.5 % of the rows unless a common word starts with
# it ("saz*": 5,000 estimated, 171,723 at 1M captures): where that guess picks a gather, the
# newest _PROBE_ROWS captures are walked first (~15 ms at most), and gathered only if they do
# not fill the page (gathering "saz*" took 220 ms, walking it 14 ms).
_PROBE_ROWS: Final = 1000
_tsv: ColumnElement[Any] = literal_column("capture_text.tsv")


def _paired(query: SearchQuery) -> list[str]:
    """Each phrase of two whole words or more, as its words joined by spaces."""
    wholes = (p.terms[:-1] if p.prefix else p.terms for p in query.phrases)
    return [" ".join(terms) for terms in wholes if len(terms) > 1]


def _pairs_sql(i: int) -> str:
    """The i-th phrase's pairs asked of the index (its expression as migration 0008 wrote it)."""
    return f"jarvis_word_pairs(capture_text.tsv) @@ jarvis_phrase_pairs(:pair{i})"


def _pairs_conditions(paired: list[str]) -> list[TextClause]:
    return [text(_pairs_sql(i)).bindparams(**{f"pair{i}": p}) for i, p in enumerate(paired)]


async def _postgres_plan(
    session: AsyncSession, query: SearchQuery, limit: int, setting: str
) -> str:
    """'walk' or 'gather', by the planner's estimate of how many captures hold the words (and
    the pairs of the phrases' words); 'probe' for a gather whose estimate rests on a prefix."""
    if setting != "auto":
        return setting
    paired = _paired(query)
    params = {"words": to_tsquery(words_of(query))} | {f"pair{i}": p for i, p in enumerate(paired)}
    counted = ["tsv @@ to_tsquery('simple', :words)"]
    if paired:
        counted.append(" AND ".join(_pairs_sql(i) for i in range(len(paired))))
    # Fixed fragments only: the user's words are bound parameters.
    counts = [f"SELECT 1 FROM capture_text WHERE {w} UNION ALL " for w in counted]  # noqa: S608
    sql = f"EXPLAIN (FORMAT JSON) {''.join(counts)}SELECT 1 FROM capture_text"  # noqa: S608
    explained = (await session.execute(text(sql), params)).scalar_one()
    plan = json.loads(explained) if isinstance(explained, str) else explained
    *matches, total = (max(1.0, p["Plan Rows"]) for p in plan[0]["Plan"]["Plans"])
    unpaired = any(len(p.terms) > 1 for p in query.phrases) and not paired
    matching = min(matches)
    density = min(1.0, matching / total) * (_PHRASE_SHARE if unpaired else 1.0)
    if _WALK_COST * (limit + 1) / density < matching:
        return "walk"
    return "probe" if any(p.prefix for p in query.phrases) else "gather"


def _postgres_matching(
    query: SearchQuery,
    plan: str,
    bounds: list[tuple[str, int]],
    apps: ColumnElement[bool] | None,
    newest: int | None = None,
) -> tuple[Select[Capture, str, str, int], Any]:
    """The matching captures by `plan` ('walk' or 'gather'); a walk of the `newest` captures
    only, when given."""
    full = func.to_tsquery("simple", to_tsquery(query))
    in_range = _key_conditions(CaptureText.sort_key, bounds)
    if plan == "walk":
        # One shape for every walk, the probe's too (which stops after `newest` captures): the
        # fenced newest-first rows, the words checked down them. With an app, its name first
        # (its row is in the same pages as the next one's, ~3 µs), the tsvector (out of line,
        # ~15 µs) only for captures of that app.
        rows = _newest_first(
            "walked",
            *([apps] if apps is not None else []),
            *in_range,
            with_captures=apps is not None,
            newest=newest,
        )
        return _hits_in(rows, full)
    # A gather: the words (and the phrases' pairs) from the GIN indexes, phrases checked after.
    words = func.to_tsquery("simple", to_tsquery(words_of(query)))
    rows = _newest_first(
        "hits", _tsv.op("@@")(words), *_pairs_conditions(_paired(query)), *in_range
    )
    return _hits_in(rows, full if any(len(p.terms) > 1 for p in query.phrases) else None)


def _newest_first(
    name: str, *conditions: Any, with_captures: bool = False, newest: int | None = None
) -> Subquery:
    """capture_text's rows that meet `conditions`, newest first (the `newest` of them only, when
    given), behind OFFSET 0 or that LIMIT: it keeps the checks made outside (phrases, words)
    out of the subquery, so they run down its sorted output and stop with the page, instead of
    on every row (PostgreSQL checks conditions on a table's own columns first, before any
    join)."""
    rows = select(
        CaptureText.capture_pk,
        CaptureText.sort_key,
        CaptureText.text,
        CaptureText.boxes,
        _tsv.label("tsv"),
    )
    if with_captures:
        rows = rows.join(Capture, Capture.pk == CaptureText.capture_pk)
    rows = rows.where(*conditions).order_by(CaptureText.sort_key.desc())
    return (rows.offset(0) if newest is None else rows.limit(newest)).subquery(name)


def _hits_in(rows: Subquery, check: Any) -> tuple[Select[Capture, str, str, int], Any]:
    """The captures of `rows` whose tsvector matches `check` (all of them when None)."""
    base = (
        select(Capture, rows.c.text, rows.c.boxes, rows.c.sort_key)
        .select_from(rows)
        .join(Capture, Capture.pk == rows.c.capture_pk)
    )
    if check is not None:
        base = base.where(rows.c.tsv.op("@@")(check))
    return base, rows.c.sort_key


def _key_conditions(key: Any, bounds: list[tuple[str, int]]) -> list[Any]:
    return [key >= value if op == ">=" else key < value for op, value in bounds]


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
                return [TextBox(x=b[0], y=b[1], w=b[2], h=b[3]) for b in picked]
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

    async def page(matching: tuple[Select[Capture, str, str, int], Any]) -> list[Any]:
        query, key = matching
        # The device names in a second query: joined into this one (the relation's default),
        # the one-row devices table led SQLite's plan, FTS5 became the inner loop, and every
        # match was read and sorted instead of the newest few (350 ms for two common words at
        # 100k captures).
        query = query.where(*filters).options(selectinload(Capture.device))
        return list((await session.execute(query.order_by(key.desc()).limit(limit + 1))).all())

    if session.get_bind().dialect.name == "sqlite":
        query, key = _sqlite_matching(parsed)
        rows = await page((query.where(*_key_conditions(key, bounds)), key))
    else:
        # Planned for the words asked each time: a prepared statement's generic plan knows no
        # word's or app's frequency and took 0.8 s where the words' own plan takes 5 ms (1M).
        await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        plan = await _postgres_plan(session, parsed, limit, state.settings.search_plan)
        if plan == "probe":
            # A full page from the newest captures is the page: every older one is older.
            rows = await page(_postgres_matching(parsed, "walk", bounds, apps, _PROBE_ROWS))
            if len(rows) <= limit:
                rows = await page(_postgres_matching(parsed, "gather", bounds, apps))
        else:
            rows = await page(_postgres_matching(parsed, plan, bounds, apps))
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
