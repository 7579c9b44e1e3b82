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


def test_an_archive_from_before_the_prefix_indexes_finds_every_prefix_after_migrate(
    server_factory: ServerFactory,
) -> None:
    """Captures whose text was indexed at 0008 (no prefix indexes) are found, after `jarvis-server
    migrate`, by prefixes of 2, 3, 4 and 5 letters (diacritics folded), all pages newest first,
    exactly the captures a scan of the texts names; FTS5 now keeps indexes of 2, 3 and 4 letters,
    and text stored after the migration is found the same way."""
    server = server_factory(env={"JARVIS_TEXT_EXTRACTION": "false"})
    token = server.create_token("desk")
    taken = {i: T0 + timedelta(minutes=i) for i in range(40)}
    ids: dict[int, str] = {}
    with server.client(token) as client:
        for i in taken:
            capture = make_capture(captured_at=taken[i])
            assert upload(client, capture).status_code == 201
            ids[i] = capture.id
    server.stop()

    path = server.home / "server" / "jarvis.db"
    config = alembic_config(parse_database_url(f"sqlite:///{path}"))
    command.downgrade(config, "0008_phrasepairs")
    db = sqlite3.connect(path)
    assert "prefix" not in _fts_sql(db)
    pks = dict(db.execute("SELECT id, pk FROM captures").fetchall())

    def store(numbers: range) -> None:  # as the text worker does; the triggers index it
        db.executemany(
            "INSERT INTO capture_text (capture_pk, text, boxes, extracted_at, sort_key) "
            "VALUES (?, ?, '[]', ?, ?)",
            [
                (pks[ids[i]], _text(i), taken[i].isoformat(), search_key(taken[i], pks[ids[i]]))
                for i in numbers
            ],
        )
        db.commit()

    store(range(30))
    server.migrate()
    assert "prefix='2 3 4'" in _fts_sql(db)
    store(range(30, 40))
    db.close()
    server.start()

    folded = {"Dämmerung": "dammerung"}
    for prefix in ("da", "dat", "dash", "datab", "dam", "ze"):
        expected = [
            ids[i]
            for i in sorted(taken, reverse=True)
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
    server = server_factory(env={"JARVIS_TEXT_EXTRACTION": "false"})
    token = server.create_token("desk")
    capture = make_capture(captured_at=T0)
    with server.client(token) as client:
        assert upload(client, capture).status_code == 201
    server.stop()
    path = server.home / "server" / "jarvis.db"
    command.downgrade(alembic_config(parse_database_url(f"sqlite:///{path}")), "0008_phrasepairs")
    db = sqlite3.connect(path)
    (pk,) = db.execute("SELECT pk FROM captures").fetchone()
    db.execute(
        "INSERT INTO capture_text (capture_pk, text, boxes, extracted_at, sort_key) "
        "VALUES (?, 'quarterly dashboard', '[]', ?, ?)",
        (pk, T0.isoformat(), search_key(T0, pk)),
    )
    db.commit()
    db.execute("DROP TABLE capture_fts")
    db.close()
    server.migrate()
    server.start()
    assert _all_hits(server, token, "dash*") == [str(capture.id)]
    assert _all_hits(server, token, '"quarterly dashboard"') == [str(capture.id)]
