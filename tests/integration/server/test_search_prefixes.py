"""SQLite's prefix indexes (migration 0009): an archive indexed before them is rebuilt by
`jarvis-server migrate`, and every prefix length finds what a scan of the texts finds."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from alembic import command

from jarvis_contract import SEARCH_PATH, SearchPage
from jarvis_server.core.db import parse_database_url
from jarvis_server.migrate import alembic_config
from jarvis_server.searchkey import search_key
from tests.integration.server.uploads import make_capture, upload
from tests.support.server import LiveServer, ServerFactory

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
WORDS = ["dashboard", "database", "dates", "debt", "zebra", "Dämmerung", "da", "Zeitraum"]


def _text(i: int) -> str:
    return f"{WORDS[i % len(WORDS)]} {WORDS[(i * 3 + 1) % len(WORDS)]} line {i}"


def _fts_sql(db: sqlite3.Connection) -> str:
    row = db.execute("SELECT sql FROM sqlite_master WHERE name = 'capture_fts'").fetchone()
    return str(row[0])


def _all_hits(server: LiveServer, token: str, q: str) -> list[str]:
    hits: list[str] = []
    params = {"q": q, "limit": "7"}
    with server.client(token) as client:
        while True:
            response = client.get(SEARCH_PATH, params=params)
            assert response.status_code == 200, response.text
            page = SearchPage.model_validate_json(response.content)
            hits += [str(hit.capture.id) for hit in page.items]
            if page.next_cursor is None:
                return hits
            params["cursor"] = page.next_cursor


def _archive_at_0008(
    server_factory: ServerFactory, taken: list[datetime]
) -> tuple[LiveServer, str, sqlite3.Connection, list[tuple[str, int]]]:
    """A stopped server whose captures (one per time in `taken`) are in a database taken back to
    0008; its token, an open connection to that database, and each capture's id and row number."""
    server = server_factory(env={"JARVIS_TEXT_EXTRACTION": "false"})
    token = server.create_token("desk")
    ids = []
    with server.client(token) as client:
        for at in taken:
            capture = make_capture(captured_at=at)
            assert upload(client, capture).status_code == 201
            ids.append(capture.id)
    server.stop()
    path = server.home / "server" / "jarvis.db"
    command.downgrade(alembic_config(parse_database_url(f"sqlite:///{path}")), "0008_phrasepairs")
    db = sqlite3.connect(path)
    pks = dict(db.execute("SELECT id, pk FROM captures").fetchall())
    return server, token, db, [(str(i), pks[str(i)]) for i in ids]


def _store_text(db: sqlite3.Connection, rows: list[tuple[int, str, datetime]]) -> None:
    """Text as the text worker stores it (row number, text, when taken); the triggers index it."""
    db.executemany(
        "INSERT INTO capture_text (capture_pk, text, boxes, extracted_at, sort_key) "
        "VALUES (?, ?, '[]', ?, ?)",
        [(pk, body, at.isoformat(), search_key(at, pk)) for pk, body, at in rows],
    )
    db.commit()


def test_an_archive_from_before_the_prefix_indexes_finds_every_prefix_after_migrate(
    server_factory: ServerFactory,
) -> None:
    """Captures whose text was indexed at 0008 (no prefix indexes) are found, after `jarvis-server
    migrate`, by prefixes of 2, 3, 4 and 5 letters (diacritics folded), all pages newest first,
    exactly the captures a scan of the texts names; FTS5 now keeps indexes of 2, 3 and 4 letters,
    and text stored after the migration is found the same way."""
    taken = [T0 + timedelta(minutes=i) for i in range(40)]
    server, token, db, captures = _archive_at_0008(server_factory, taken)
    assert "prefix" not in _fts_sql(db)
    texts = [(pk, _text(i), taken[i]) for i, (_, pk) in enumerate(captures)]
    _store_text(db, texts[:30])
    server.migrate()
    assert "prefix='2 3 4'" in _fts_sql(db)
    _store_text(db, texts[30:])
    db.close()
    server.start()

    folded = {"Dämmerung": "dammerung"}
    for prefix in ("da", "dat", "dash", "datab", "dam", "ze"):
        expected = [
            captures[i][0]
            for i in reversed(range(len(taken)))
            if any(folded.get(w, w).lower().startswith(prefix) for w in _text(i).split())
        ]
        assert expected, prefix
        assert _all_hits(server, token, prefix + "*") == expected, prefix


def test_a_migration_stopped_after_it_dropped_the_index_runs_again_whole(
    server_factory: ServerFactory,
) -> None:
    """SQLite runs the DROP of 0009 outside the rebuild's transaction: a server stopped right
    after it is left at 0008 without capture_fts. The next `migrate` creates and fills it, and
    the text stored before is found again."""
    server, token, db, [(capture_id, pk)] = _archive_at_0008(server_factory, [T0])
    _store_text(db, [(pk, "quarterly dashboard", T0)])
    db.execute("DROP TABLE capture_fts")
    db.close()
    server.migrate()
    server.start()
    assert _all_hits(server, token, "dash*") == [capture_id]
    assert _all_hits(server, token, '"quarterly dashboard"') == [capture_id]
