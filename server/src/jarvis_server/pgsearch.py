"""PostgreSQL: the newest captures whose text matches a query, by the cheapest of three ways.

A walk reads the sort-key btree backwards and checks each capture's tsvector (read out of line,
~15 µs) until the page is full: cheap when many captures match, ruinous for a rare word
(thousands checked for 21 hits); with an app filter it reads every capture's app on the way
(~3 µs each) and checks the tsvector of that app's only.

A window asks the GIN index for the captures holding all the words (~0.2 µs a posting, no row
read) and the sort-key btree for the newest captures, and reads only the rows both hold (a
BitmapAnd; ~8 µs each with its capture, sorted): it spans twice the captures the statistics say
fill the page, and the next older one as many as the hits found so far say the rest of the page
needs. Spanning every capture, a window is a gather: every match read and sorted (rare words).
Phrases are checked down the sorted rows until the page is full.

The words' GIN index has no positions: a phrase of two words or more is asked of the index of
neighbouring words' pairs (migration 0008) instead, which yields nearly only the captures
holding it, in one gather (the statistics know too little of pairs to size a window). A phrase
without pairs (one word and a prefix, "quarterly rep*") is found by its words, and
_PHRASE_SHARE is our guess of how often words found together are in order (~1 % in the
benchmark's Zipf text, more in real text, where phrases are made of words that go together).

A prefix's estimate is PostgreSQL's guess of 0.5 % of the rows unless a common word starts with
it ("saz*": 5,000 estimated, 171,723 at 1M captures), and its postings are those of every word
it starts: where that guess picks a window, a probe walks the newest _PROBE_ROWS captures first
(~15 ms at most) and gathers only if they do not fill the page.

The costs are in µs, measured on benchmarks/search.py's database of 1M captures (2 cores).
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from sqlalchemy import Select, TextClause, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ColumnElement, Subquery

from jarvis_server.models import Capture, CaptureText
from jarvis_server.textquery import Phrase, SearchQuery, to_tsquery, words_of

__all__ = ["Bounds", "Matching", "Plan", "key_conditions", "newest_hits", "plan_search"]

Matching = tuple[Select[Capture, str, str, int], Any]
Bounds = list[tuple[str, int]]  # (">=" or "<", sort key)
PageOf = Callable[[Matching, int, bool], Awaitable[list[Any]]]
PlannerSetting = Literal["enable_indexscan", "enable_sort"]

_TSV: Final = 15.0  # a capture's tsvector read out of line and checked
_APP: Final = 3.0  # a capture's row read on a walk, for its app
_POSTING: Final = 0.25  # a capture in the words' GIN index, put in the bitmap
_KEY: Final = 0.04  # a capture in the sort-key btree, put in the bitmap
_CANDIDATE: Final = 8.0  # a capture both hold: its row read, its capture joined, sorted
_SPARE: Final = 2.0  # a window spans this many times the captures expected to fill the page
_GROWTH: Final = 4.0  # after windows without a hit, the next spans this many times all of them
_PHRASE_SHARE: Final = 0.02
_PROBE_ROWS: Final = 1000
_tsv: ColumnElement[Any] = literal_column("capture_text.tsv")


@dataclass(frozen=True, slots=True)
class Plan:
    """How to find a page: 'walk', 'window' (the first spanning `rows` of the `total`
    captures with text; all of them: a gather) or 'probe'."""

    kind: Literal["walk", "window", "probe"]
    pairs: tuple[str, ...] = ()  # each paired phrase's codes, as a tsquery (_pair_codes)
    rows: float = math.inf
    total: float = 1.0


def _whole(phrase: Phrase) -> tuple[str, ...]:
    """A phrase's whole words (all but a prefix)."""
    return phrase.terms[:-1] if phrase.prefix else phrase.terms


def _checked(query: SearchQuery) -> bool:
    """Whether hits must be checked for phrases (an index without positions yields them)."""
    return any(len(p.terms) > 1 for p in query.phrases)


def _paired(query: SearchQuery) -> list[str]:
    """Each phrase of two whole words or more, as its words joined by spaces."""
    return [" ".join(_whole(p)) for p in query.phrases if len(_whole(p)) > 1]


async def _pair_codes(session: AsyncSession, query: SearchQuery) -> tuple[str, ...]:
    """The codes of each paired phrase's pairs (by the function migration 0008 wrote, from the
    same to_tsvector as the stored ones), asked once: as a bound tsquery they are planned as a
    constant, where the function call cost 1-2 ms in the planning of each statement."""
    paired = _paired(query)
    if not paired:
        return ()
    # Fixed fragments only: the phrases are bound parameters.
    asked = ", ".join(f"coalesce(jarvis_phrase_pairs(:p{i})::text, '')" for i in range(len(paired)))
    row = (
        await session.execute(text(f"SELECT {asked}"), {f"p{i}": p for i, p in enumerate(paired)})
    ).one()
    return tuple(row)


def _pairs_sql(i: int) -> str:
    """The i-th phrase's pairs asked of the index (its expression as migration 0008 wrote it)."""
    return f"jarvis_word_pairs(capture_text.tsv) @@ CAST(:pairs{i} AS tsquery)"


def _pairs_conditions(pairs: tuple[str, ...]) -> list[TextClause]:
    return [text(_pairs_sql(i)).bindparams(**{f"pairs{i}": p}) for i, p in enumerate(pairs)]


def _like(app: str) -> str:
    """A LIKE pattern for a part of a name, with ESCAPE '/' (as SQLAlchemy's autoescape)."""
    return "%" + app.replace("/", "//").replace("%", "/%").replace("_", "/_") + "%"


async def _estimates(
    session: AsyncSession, query: SearchQuery, pairs: tuple[str, ...]
) -> tuple[float, float, float]:
    """The planner's estimates: captures holding the words (and the phrases' pairs), captures
    with text, and the share of captures the app filter keeps."""
    params: dict[str, str] = {"words": to_tsquery(words_of(query))}
    params |= {f"pairs{i}": p for i, p in enumerate(pairs)}
    params |= {f"app{i}": _like(app) for i, app in enumerate(query.apps)}
    counted = ["FROM capture_text WHERE tsv @@ to_tsquery('simple', :words)"]
    if pairs:
        counted.append(
            "FROM capture_text WHERE " + " AND ".join(_pairs_sql(i) for i in range(len(pairs)))
        )
    counted.append("FROM capture_text")
    if query.apps:
        # The expression exactly as the route filters on it, '' a literal: PostgreSQL matches
        # it to its statistics (migration 0007) only when it is written so.
        names = " OR ".join(
            f"lower(coalesce(app_name, '')) LIKE :app{i} ESCAPE '/'" for i in range(len(query.apps))
        )
        counted += [f"FROM captures WHERE {names}", "FROM captures"]
    # Fixed fragments only: the user's words and apps are bound parameters.
    sql = "EXPLAIN (FORMAT JSON) " + " UNION ALL ".join(f"SELECT 1 {c}" for c in counted)
    explained = (await session.execute(text(sql), params)).scalar_one()
    plan = json.loads(explained) if isinstance(explained, str) else explained
    rows = [max(1.0, p["Plan Rows"]) for p in plan[0]["Plan"]["Plans"]]
    if query.apps:
        *rows, app, captures = rows
        share = min(1.0, app / captures)
    else:
        share = 1.0
    *matches, total = rows
    return min(matches), total, share


async def plan_search(session: AsyncSession, query: SearchQuery, limit: int, setting: str) -> Plan:
    """The plan `setting` names, or with 'auto' the cheapest by the planner's estimates."""
    pairs = await _pair_codes(session, query)
    if setting == "walk":
        return Plan("walk", pairs)
    if setting == "probe":
        return Plan("probe", pairs)
    matching, total, app_share = await _estimates(session, query, pairs)
    if setting == "gather":
        return Plan("window", pairs, math.inf, total)
    checked = _checked(query)
    in_order = _PHRASE_SHARE if checked and not pairs else 1.0
    density = min(1.0, matching / total) * in_order * app_share
    walked = (limit + 1) / density
    walk = walked * (_APP + app_share * _TSV if query.apps else _TSV)
    # A phrase's pairs are too rare for the statistics to know (PostgreSQL guesses 0.5 %
    # where there are a few hundred at 1M captures): its windows would come up short again
    # and again, where its pairs' few candidates are read at once in a gather.
    span = math.inf if pairs else _SPARE * walked
    if span >= total:
        span = math.inf
    candidates = matching * min(1.0, span / total)
    checks = min(candidates, (limit + 1) / in_order) if checked else 0.0
    window = (
        _POSTING * matching
        + (_KEY * span if span < total else 0.0)
        + candidates * _CANDIDATE
        + checks * _TSV
    )
    if setting == "window" or (window < walk and not any(p.prefix for p in query.phrases)):
        return Plan("window", pairs, span, total)
    return Plan("walk" if walk <= window else "probe", pairs)


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


def _hits_in(rows: Subquery, check: Any) -> Matching:
    """The captures of `rows` whose tsvector matches `check` (all of them when None)."""
    base = (
        select(Capture, rows.c.text, rows.c.boxes, rows.c.sort_key)
        .select_from(rows)
        .join(Capture, Capture.pk == rows.c.capture_pk)
    )
    if check is not None:
        base = base.where(rows.c.tsv.op("@@")(check))
    return base, rows.c.sort_key


def key_conditions(key: Any, bounds: Bounds) -> list[Any]:
    return [key >= value if op == ">=" else key < value for op, value in bounds]


def _walk(
    query: SearchQuery, bounds: Bounds, apps: ColumnElement[bool] | None, newest: int | None
) -> Matching:
    """The fenced newest-first rows, the words checked down them (the newest `newest` rows only,
    when given). With an app, its name first (its row is in the same pages as the next one's,
    ~3 µs), the tsvector (out of line, ~15 µs) only for captures of that app."""
    rows = _newest_first(
        "walked",
        *([apps] if apps is not None else []),
        *key_conditions(CaptureText.sort_key, bounds),
        with_captures=apps is not None,
        newest=newest,
    )
    return _hits_in(rows, func.to_tsquery("simple", to_tsquery(query)))


def _gather(query: SearchQuery, pairs: tuple[str, ...], bounds: Bounds) -> Matching:
    """The captures the GIN indexes yield within `bounds`, phrases checked after: a paired
    phrase's by its pairs alone (its words' postings cost 10-30 ms where a common word is in it,
    and its pairs imply them but for a code's few namesakes), the other words by their own."""
    rest = SearchQuery(tuple(p for p in query.phrases if len(_whole(p)) < 2))
    words = func.to_tsquery("simple", to_tsquery(words_of(rest)))
    rows = _newest_first(
        "hits",
        *([_tsv.op("@@")(words)] if rest.phrases else []),
        *_pairs_conditions(pairs),
        *key_conditions(CaptureText.sort_key, bounds),
    )
    full = func.to_tsquery("simple", to_tsquery(query))
    return _hits_in(rows, full if _checked(query) else None)


@asynccontextmanager
async def _planner(session: AsyncSession, setting: PlannerSetting) -> AsyncIterator[None]:
    """PostgreSQL's planner without `setting` for the statements run inside. (If one fails,
    the transaction is rolled back and the setting with it.)"""
    await session.execute(text(f"SET LOCAL {setting} = off"))
    yield
    await session.execute(text(f"RESET {setting}"))


async def _gathered(
    session: AsyncSession, query: SearchQuery, plan: Plan, bounds: Bounds, limit: int, page: PageOf
) -> list[Any]:
    """The newest hits of the captures the indexes yield, by windows of plan.rows newest
    captures and older ones while the page is not full; in one gather if plan.rows is inf."""
    # PostgreSQL costs a tsvector check as a comparison, not the ~15 µs of reading it out of
    # line, and would walk a window's keys checking each (40-60 ms for a rare word in 8,400
    # captures) rather than intersect the two indexes' bitmaps (2 ms).
    if math.isinf(plan.rows):
        async with _planner(session, "enable_indexscan"):
            return await page(_gather(query, plan.pairs, bounds), limit + 1, False)
    # The first and last keys off the ends of their index (which the setting would forbid).
    low, high = (
        await session.execute(text("SELECT min(sort_key), max(sort_key) FROM capture_text"))
    ).one()
    if low is None:
        return []
    async with _planner(session, "enable_indexscan"):
        return await _windows(query, plan, (low, high), bounds, limit, page)


async def _windows(
    query: SearchQuery,
    plan: Plan,
    ends: tuple[int, int],
    bounds: Bounds,
    limit: int,
    page: PageOf,
) -> list[Any]:
    low, high = ends
    # Keys are times: a window of n captures spans n mean gaps between them.
    gap = (high - low + 1) / max(1.0, plan.total)
    lower = [value for op, value in bounds if op == ">="]
    floor = max([*lower, low])
    newer = min([value for op, value in bounds if op == "<"] + [high + 1])
    rows, spanned = plan.rows, 0.0
    keys: list[int] = []
    while True:
        older = floor if math.isinf(rows) else newer - math.ceil(rows * gap)
        last = older <= floor
        window = _gather(
            query,
            plan.pairs,
            [(">=", v) for v in lower] + [("<", newer)] + ([] if last else [(">=", older)]),
        )
        if not spanned:
            # The first window's hits whole: most often they are the page.
            first = await page(window, limit + 1, False)
            if len(first) > limit or last:
                return first
            keys = [row[3] for row in first]
        else:
            # The next windows' as keys only: the page's rows are read once, at the end.
            keys += await page(window, limit + 1 - len(keys), True)
            if len(keys) > limit or last:
                break
        # The next window by the hits found so far, or wider by _GROWTH if none; spanning half
        # of what is left, it spans all of it (its range's bitmap would cost more than reading
        # the rest's few candidates).
        spanned += rows
        need = limit + 1 - len(keys)
        rows = max(rows, _SPARE * need * spanned / len(keys) if keys else _GROWTH * spanned)
        if rows * 2 >= plan.total - spanned:
            rows = math.inf
        newer = older
    if not keys:
        return []
    # The page's rows by their keys.
    found = _newest_first("found", CaptureText.sort_key.in_(keys))
    return await page(_hits_in(found, None), limit + 1, False)


async def newest_hits(
    session: AsyncSession,
    query: SearchQuery,
    plan: Plan,
    bounds: Bounds,
    apps: ColumnElement[bool] | None,
    limit: int,
    page: PageOf,
) -> list[Any]:
    """Up to limit + 1 rows of the newest hits, `page` running each statement with the
    caller's filters for the number of rows it is given."""
    if plan.kind == "window":
        return await _gathered(session, query, plan, bounds, limit, page)
    # A walk's subquery is planned apart from the page's LIMIT (the fence that keeps the checks
    # out of it): unsorted, it was planned as all of an app's captures hashed, joined and
    # sorted (1.2-1.6 s at 1M captures) rather than the newest read until the page is full.
    async with _planner(session, "enable_sort"):
        rows = await page(
            _walk(query, bounds, apps, _PROBE_ROWS if plan.kind == "probe" else None),
            limit + 1,
            False,
        )
    if plan.kind == "walk" or len(rows) > limit:
        # A full page from the newest captures is the page: every older one is older.
        return rows
    return await _gathered(session, query, replace(plan, rows=math.inf), bounds, limit, page)
