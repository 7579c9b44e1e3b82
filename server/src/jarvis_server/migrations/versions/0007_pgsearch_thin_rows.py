"""PostgreSQL: capture_text's rows keep their text, boxes and tsvector out of line (TOAST), and
the planner learns how common each app name is.

A search that cannot walk the sort-key index (rare words, phrases) takes every match from the
GIN index and sorts them by sort_key, which reads each match's heap row. With the ~10 KB of
text, boxes and tsvector inline (compressed) a row filled a page of its own, and those reads
cost ~20 µs each; out of line, rows are ~100 bytes, dozens share a page, and the tsvector is
fetched only for the rows whose phrase is checked. Rows stored before this migration stay as
they are until the table is rewritten (`VACUUM FULL capture_text`, which locks it meanwhile).

`app:firefox` filters on lower(coalesce(app_name, '')) LIKE '%firefox%'; without statistics on
that expression the planner guessed one capture in 200,000 matches, scanned every capture first
and joined the text to it (3.3 s at 1M captures); with them it walks the newest text (60 ms).

SQLite: nothing to do (FTS5 keeps its own index, positions included).

Revision ID: 0007_pgsearch
Revises: 0006_removals
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007_pgsearch"
down_revision: str | None = "0006_removals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # 128 is the smallest target PostgreSQL accepts: every column long enough to be
        # moved out of line is.
        op.execute("ALTER TABLE capture_text SET (toast_tuple_target = 128)")
        # The expression exactly as the search route writes it (the '' a literal, not a
        # parameter), or the planner does not match it to these statistics.
        op.execute(
            "CREATE STATISTICS st_captures_app_lower ON (lower(coalesce(app_name, ''))) "
            "FROM captures"
        )
        op.execute("ANALYZE captures")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP STATISTICS IF EXISTS st_captures_app_lower")
        op.execute("ALTER TABLE capture_text RESET (toast_tuple_target)")
