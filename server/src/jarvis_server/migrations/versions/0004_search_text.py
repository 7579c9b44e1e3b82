"""Text read from captures, its full-text index, and the queue of captures waiting for it.

SQLite: an FTS5 table over capture_text (external content, unicode61 with diacritics removed),
kept in step by triggers, so that any delete of a capture_text row (including the cascade from
its capture) removes the index entry too. Its rowid is capture_text.sort_key (see
jarvis_server.searchkey), which sorts as newest first by captured_at, so FTS5 itself serves
"the newest n matches" by walking its rowids backwards. PostgreSQL: a tsvector column with a GIN
index, and sort_key in a btree for the same walk. Every capture already stored is queued.

Revision ID: 0004_search
Revises: 0003_timeline
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_search"
down_revision: str | None = "0003_timeline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_SQLITE_FTS = [
    "CREATE VIRTUAL TABLE capture_fts USING fts5(text, content='capture_text', "
    "content_rowid='sort_key', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER capture_text_ai AFTER INSERT ON capture_text BEGIN "
    "INSERT INTO capture_fts(rowid, text) VALUES (new.sort_key, new.text); END",
    "CREATE TRIGGER capture_text_ad AFTER DELETE ON capture_text BEGIN "
    "INSERT INTO capture_fts(capture_fts, rowid, text) "
    "VALUES ('delete', old.sort_key, old.text); END",
    "CREATE TRIGGER capture_text_au AFTER UPDATE ON capture_text BEGIN "
    "INSERT INTO capture_fts(capture_fts, rowid, text) "
    "VALUES ('delete', old.sort_key, old.text); "
    "INSERT INTO capture_fts(rowid, text) VALUES (new.sort_key, new.text); END",
]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.create_table(
        "capture_text",
        sa.Column("capture_pk", _PK, nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("boxes", sa.Text(), nullable=False),
        sa.Column("extracted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sort_key", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["capture_pk"],
            ["captures.pk"],
            name=op.f("fk_capture_text_capture_pk_captures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("capture_pk", name=op.f("pk_capture_text")),
    )
    op.create_table(
        "text_queue",
        sa.Column("capture_pk", _PK, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["capture_pk"],
            ["captures.pk"],
            name=op.f("fk_text_queue_capture_pk_captures"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("capture_pk", name=op.f("pk_text_queue")),
    )
    op.create_index("ix_capture_text_sort_key", "capture_text", ["sort_key"], unique=True)
    op.create_index("ix_text_queue_due", "text_queue", ["failed_at", "next_attempt_at"])
    if sqlite:
        for statement in _SQLITE_FTS:
            op.execute(statement)
    else:
        op.add_column("capture_text", sa.Column("tsv", postgresql.TSVECTOR(), nullable=False))
        # Every match is checked against tsv (the index walk, a phrase's recheck): lz4 reads
        # it back several times faster than the default pglz, where the server has lz4.
        op.execute(
            "DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_settings WHERE name = "
            "'default_toast_compression' AND 'lz4' = ANY(enumvals)) THEN "
            "ALTER TABLE capture_text ALTER COLUMN tsv SET COMPRESSION lz4; END IF; END $$"
        )
        op.create_index("ix_capture_text_tsv", "capture_text", ["tsv"], postgresql_using="gin")
    op.execute(
        "INSERT INTO text_queue (capture_pk, attempts, next_attempt_at) "
        "SELECT pk, 0, received_at FROM captures"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("capture_text_ai", "capture_text_ad", "capture_text_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS capture_fts")
    op.drop_table("text_queue")
    op.drop_table("capture_text")
