"""PostgreSQL's ways to a search page (JARVIS_SEARCH_PLAN): walking the sort-key index newest
first, gathering every capture the GIN indexes yield and sorting them, windows of the newest
captures and older ones, or a probe (a short walk, then a gather). Whichever one runs, and
whichever ran for the previous page, the hits are the same."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from jarvis_contract import SEARCH_PATH, SearchPage
from jarvis_server.core.db import parse_database_url
from jarvis_server.searchkey import search_key
from jarvis_server.textquery import terms_of
from tests.integration.server.uploads import make_capture, upload
from tests.support.postgres import PostgresCluster
from tests.support.server import LiveServer, ServerFactory

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def _namesakes() -> tuple[tuple[str, str], tuple[str, str]]:
    """Two pairs of words with the same code in the index of word pairs (migration 0008: the
    first 5 hex digits of the pair's md5), found as the birthday paradox finds them."""
    seen: dict[str, tuple[str, str]] = {}
    for i in itertools.count():
        pair = (f"na{i}", f"me{i}")
        code = hashlib.md5(" ".join(pair).encode()).hexdigest()[:5]  # noqa: S324 - not security
        if code in seen:
            return seen[code], pair
        seen[code] = pair
    raise AssertionError  # unreachable: count() never ends


# A capture holding one pair and the other's words apart: found by the index, not a hit.
STORED_PAIR, ASKED_PAIR = _namesakes()
PLANS = ("walk", "gather", "auto", "probe", "window")
QUERIES: list[dict[str, str]] = [
    {"q": "alpha"},  # every capture: a walk's case
    {"q": "beta"},
    {"q": '"gamma delta"'},  # "delta gamma" holds both words but is not the phrase
    {"q": '"alpha beta"'},
    {"q": '"beta gamma delta"'},  # "beta gamma kappa gamma delta" holds its pairs, not it
    {"q": "gamma-del*"},  # the phrase "gamma del*": no pair of whole words to ask the index for
    {"q": "alpha-beta-gam*"},
    {"q": f'"{ASKED_PAIR[0]} {ASKED_PAIR[1]}"'},
    {"q": "zeb*"},  # zebra and zebu, not zeal
    {"q": "beta app:firefox"},
    {"q": '"gamma delta" app:term'},  # Terminal's captures, a phrase checked after the app
    {"q": "alpha app:fire", "until": (T0 + timedelta(minutes=20)).isoformat()},
    {"q": "alpha", "since": (T0 + timedelta(minutes=7)).isoformat()},
    {
        "q": "gamma",
        "since": (T0 + timedelta(minutes=3)).isoformat(),
        "until": (T0 + timedelta(minutes=20)).isoformat(),
    },
    # 11 and 12 were taken in the same millisecond: bounds inside it, and on whole ones.
    {"q": "alpha", "since": (T0 + timedelta(minutes=11, microseconds=300)).isoformat()},
    {"q": "alpha", "until": (T0 + timedelta(minutes=11, microseconds=300)).isoformat()},
    {
        "q": "alpha",
        "since": (T0 + timedelta(minutes=11)).isoformat(),
        "until": (T0 + timedelta(minutes=11, microseconds=1000)).isoformat(),
    },
    {"q": "nowhere"},
]


def _text(i: int) -> str:
    words = ["alpha"]
    if i % 3 == 0:
        words.append("beta")
    if i % 4 == 0:
        words += ["gamma", "delta"]
    elif i % 4 == 2:
        words += ["delta", "gamma"]
    words.append({0: "zebra", 1: "zebu", 2: "zeal"}.get(i % 5, "omega"))
    if i % 10 == 7:
        words += ["beta", "gamma", "kappa", "gamma", "delta"]
    if i % 10 == 3:
        words += [*STORED_PAIR, ASKED_PAIR[0], "kappa", ASKED_PAIR[1]]
    return " ".join(words) + f"\nline {i}"


def _store_text(url: str, rows: list[tuple[int, str, datetime]]) -> None:
    """The text as the text worker stores it (its INSERT), for captures uploaded without OCR."""

    async def run() -> None:
        engine = create_async_engine(parse_database_url(url))
        try:
            async with engine.begin() as conn:
                for pk, body, captured_at in rows:
                    await conn.execute(
                        text(
                            "INSERT INTO capture_text "
                            "(capture_pk, text, boxes, extracted_at, sort_key, tsv) VALUES "
                            "(:pk, :text, '[]', now(), :key, to_tsvector('simple', :folded))"
                        ),
                        {
                            "pk": pk,
                            "text": body,
                            "key": search_key(captured_at, pk),
                            "folded": " ".join(terms_of(body)),
                        },
                    )
                await conn.execute(text("ANALYZE capture_text"))
        finally:
            await engine.dispose()

    asyncio.run(run())


def _pks(url: str) -> dict[str, int]:
    async def run() -> dict[str, int]:
        engine = create_async_engine(parse_database_url(url))
        try:
            async with engine.connect() as conn:
                rows = await conn.execute(text("SELECT id, pk FROM captures"))
                return {str(capture_id): pk for capture_id, pk in rows}
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _ms(when: datetime) -> timedelta:
    return timedelta(milliseconds=when.microsecond // 1000)


def _page(server: LiveServer, token: str, params: dict[str, str]) -> SearchPage:
    with server.client(token) as client:
        response = client.get(SEARCH_PATH, params=params)
    assert response.status_code == 200, response.text
    return SearchPage.model_validate_json(response.content)


def _walk_pages(
    servers: list[LiveServer], token: str, query: dict[str, str], limit: int
) -> list[str]:
    """Every hit, page by page, each page asked of the next server in turn."""
    seen: list[str] = []
    params = {**query, "limit": str(limit)}
    turn = 0
    while True:
        page = _page(servers[turn % len(servers)], token, params)
        seen += [str(h.capture.id) for h in page.items]
        if page.next_cursor is None:
            return seen
        params["cursor"] = page.next_cursor
        turn += 1


def test_walk_and_gather_find_the_same_hits_in_the_same_order(
    postgres_cluster: PostgresCluster, server_factory: ServerFactory
) -> None:
    """On one database, servers set to walk, to gather, to probe (the newest captures walked,
    then a gather when they do not fill the page), to windows and to choose per query return
    the same hits newest first for words, phrases (not the same words in another order),
    prefixes, app and time filters, and no hits; pages of 3 cross from one way to the other
    with the same cursors and lose or repeat nothing."""
    url = postgres_cluster.url(postgres_cluster.create_database())
    env = {"JARVIS_TEXT_EXTRACTION": "false"}
    first = server_factory(env={**env, "JARVIS_SEARCH_PLAN": PLANS[0]}, database_url=url)
    servers = [first] + [
        server_factory(
            env={**env, "JARVIS_SEARCH_PLAN": plan, "JARVIS_STORAGE_DIR": str(first.storage_dir)},
            database_url=url,
        )
        for plan in PLANS[1:]
    ]
    token = first.create_token("desk")
    # Uploaded out of order (late uploads sort by when they were taken); 11 and 12 were taken
    # in the same millisecond.
    taken = {i: T0 + timedelta(minutes=i) for i in range(30)}
    taken[12] = taken[11] + timedelta(microseconds=300)
    order = list(taken)
    random.Random(5).shuffle(order)
    ids: dict[int, str] = {}
    with first.client(token) as client:
        for i in order:
            capture = make_capture(
                captured_at=taken[i], app_name="Firefox" if i % 2 else "Terminal"
            )
            assert upload(client, capture).status_code == 201
            ids[i] = capture.id
    pks = _pks(url)
    _store_text(url, [(pks[ids[i]], _text(i), taken[i]) for i in taken])

    for query in QUERIES:
        words, _, app = query["q"].partition(" app:")
        words = words.replace('"', "").replace("-", " ")
        expected_set = {
            ids[i]
            for i in taken
            if f" {words.removesuffix('*')}" in f" {_text(i)}"
            and app in ("firefox" if i % 2 else "terminal")
            and ("since" not in query or taken[i] >= datetime.fromisoformat(query["since"]))
            and ("until" not in query or taken[i] < datetime.fromisoformat(query["until"]))
        }
        each = {
            plan: _walk_pages([s], token, query, 100)
            for plan, s in zip(PLANS, servers, strict=True)
        }
        assert set(each["walk"]) == expected_set, query
        assert len(each["walk"]) == len(expected_set), query
        assert each["gather"] == each["walk"], query
        assert each["auto"] == each["walk"], query
        assert each["probe"] == each["walk"], query
        assert each["window"] == each["walk"], query
        by_id = {ids[i]: i for i in taken}
        # Newest first to the millisecond (the twins' order is their row numbers').
        when = [taken[by_id[c]].replace(microsecond=0) + _ms(taken[by_id[c]]) for c in each["walk"]]
        assert when == sorted(when, reverse=True), query
        assert _walk_pages(servers, token, query, 3) == each["walk"], query
        assert _walk_pages(servers[::-1], token, query, 3) == each["walk"], query


def test_a_window_that_holds_too_few_hits_goes_on_to_older_captures(
    postgres_cluster: PostgresCluster, server_factory: ServerFactory
) -> None:
    """A window spans as many of the newest captures as the statistics say will fill the page;
    where the hits are all older than that (a word from last month), the next older windows are
    searched until the page is full or the captures end, page after page."""
    url = postgres_cluster.url(postgres_cluster.create_database())
    env = {"JARVIS_TEXT_EXTRACTION": "false"}
    window = server_factory(env={**env, "JARVIS_SEARCH_PLAN": "window"}, database_url=url)
    walk = server_factory(
        env={**env, "JARVIS_SEARCH_PLAN": "walk", "JARVIS_STORAGE_DIR": str(window.storage_dir)},
        database_url=url,
    )
    token = window.create_token("desk")
    taken = {i: T0 + timedelta(minutes=i) for i in range(30)}
    ids: dict[int, str] = {}
    with window.client(token) as client:
        for i in taken:
            capture = make_capture(captured_at=taken[i], app_name="Firefox" if i % 2 else "Code")
            assert upload(client, capture).status_code == 201
            ids[i] = capture.id
    pks = _pks(url)
    # The oldest five hold "ledger"; every capture holds "alpha".
    _store_text(url, [(pks[ids[i]], "alpha ledger" if i < 5 else "alpha", taken[i]) for i in taken])

    for query, expected in [
        ({"q": "ledger"}, [4, 3, 2, 1, 0]),
        ({"q": "ledger app:code"}, [4, 2, 0]),
        ({"q": "alpha ledger", "until": (T0 + timedelta(minutes=3)).isoformat()}, [2, 1, 0]),
    ]:
        for limit in (1, 2):
            hits = _walk_pages([window], token, query, limit)
            assert hits == [ids[i] for i in expected], (query, limit)
            assert _walk_pages([walk, window], token, query, limit) == hits, (query, limit)
