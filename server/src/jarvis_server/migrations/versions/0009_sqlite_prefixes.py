"""SQLite: FTS5 indexes of the first 2, 3 and 4 letters of every word, for prefix searches.

Without them FTS5 answers `da*` by merging, in memory, the whole list of captures of every word
that starts with "da" before it yields the newest hit: at 1M captures 7.4 s for a 2-letter
prefix, 165 ms for 3 letters and 60-80 ms for 4 (p50; up to 10 s, 390 ms and 270 ms). With an
index per length, such a prefix is one list read newest first and stopped at the page: 0.4-0.7
ms each. Longer prefixes are still merged, but few words share 5 letters (2-10 ms).

The price is room: the FTS5 index grows from ~1.8 kB to ~4.9 kB per capture (each length holds
its own copy of the positions, for prefixes inside phrases). FTS5 cannot add a prefix index to an
existing table: it is dropped, created again and rebuilt from capture_text, ~0.8 ms a capture
(1M captures: 808 s on a 2-core machine at load 1; the WAL grows by the new index's size until
the next checkpoint). `serve` says it migrates before it starts, and `jarvis up` waits for it.
A migration stopped halfway leaves the schema at 0008 and runs again whole at the next start.
The triggers that keep the index are unchanged: they name the table, which keeps its name.

PostgreSQL: nothing to do (a GIN index on tsvector finds a prefix's lexemes in its own order).

Revision ID: 0009_prefixes
Revises: 0008_phrasepairs
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009_prefixes"
down_revision: str | None = "0008_phrasepairs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0004's table, word for word, with the prefix option added or not.
_FTS = (
    "CREATE VIRTUAL TABLE capture_fts USING fts5(text, content='capture_text', "
    "content_rowid='sort_key', tokenize='unicode61 remove_diacritics 2'{prefix})"
)
# 2 is the shortest prefix a query may ask (textquery._MIN_PREFIX).
PREFIXES = "2 3 4"


def _rebuild(prefix: str) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("DROP TABLE IF EXISTS capture_fts")  # a run stopped after it ran again
    op.execute(_FTS.format(prefix=prefix))
    op.execute("INSERT INTO capture_fts(capture_fts) VALUES ('rebuild')")


def upgrade() -> None:
    _rebuild(f", prefix='{PREFIXES}'")


def downgrade() -> None:
    _rebuild("")
