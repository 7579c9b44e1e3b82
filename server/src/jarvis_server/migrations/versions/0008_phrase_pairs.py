"""PostgreSQL: an index of the pairs of neighbouring words, so that a phrase is found by its
pairs instead of by its words.

The GIN index on tsv has no positions: for "quarterly report" it yields every capture holding
both words, and each one's tsvector was read to check that they follow each other. With common
words that is most of the table for a handful of hits (p95 702 ms at 1M captures). This index
holds, for each capture, a code per pair of words at neighbouring positions of its tsvector; a
phrase asks it for its pairs' codes and only the captures holding them (the phrase, or for three
words or more each of its pairs somewhere, or a code's namesake) are read and checked.

A code is the first 5 hex digits of the pair's md5: 2^20 codes keep the index small whatever the
vocabulary (each distinct key costs ~20 bytes; real pairs are tens of millions at 1M captures),
and a namesake costs one more tsvector check (~300 per pair at 1M captures). An index on an
expression of tsv: nothing is stored in the rows, the text worker's INSERT is unchanged and no
row can lack its pairs; the search route spells a phrase's codes with jarvis_phrase_pairs, from
the same to_tsvector, so they always match the stored ones.

Building the index reads every tsvector once and is slow: ~0.9 ms of CPU per capture for the
pairs and as much again for the GIN build (1M captures: 44 min on a loaded 2-core machine, the
table readable meanwhile, new text waiting for it); run `jarvis-server migrate` at a quiet hour.

SQLite: nothing to do (FTS5 keeps positions in its own index).

Revision ID: 0008_phrasepairs
Revises: 0007_pgsearch
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008_phrasepairs"
down_revision: str | None = "0007_pgsearch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# IMMUTABLE, as an index expression must be. COST: a millisecond a call, so the planner never
# evaluates it row by row as a filter where the index answers.
_WORD_PAIRS = """
CREATE FUNCTION jarvis_word_pairs(words tsvector) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 10000 AS $$
    SELECT coalesce(
        array_to_tsvector(array_agg(DISTINCT left(md5(a.lexeme || ' ' || b.lexeme), 5))), ''
    )
    FROM (SELECT u.lexeme, p FROM unnest(words) AS u, unnest(u.positions) AS p) AS a
    JOIN (SELECT u.lexeme, p FROM unnest(words) AS u, unnest(u.positions) AS p) AS b
      ON b.p = a.p + 1
$$
"""

# The codes of a phrase's pairs (its terms joined by spaces), all required.
_PHRASE_PAIRS = """
CREATE FUNCTION jarvis_phrase_pairs(phrase text) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT string_agg(quote_literal(code), ' & ')::tsquery
    FROM unnest(tsvector_to_array(jarvis_word_pairs(to_tsvector('simple', phrase)))) AS code
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_WORD_PAIRS)
    op.execute(_PHRASE_PAIRS)
    op.execute(
        "CREATE INDEX ix_capture_text_pairs ON capture_text USING gin (jarvis_word_pairs(tsv))"
    )
    op.execute("ANALYZE capture_text")  # the expression's statistics, for the plan's estimate


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index("ix_capture_text_pairs", table_name="capture_text")
    op.execute("DROP FUNCTION jarvis_phrase_pairs(text)")
    op.execute("DROP FUNCTION jarvis_word_pairs(tsvector)")
