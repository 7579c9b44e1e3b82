"""Upload rate limits per device shared by every replica.

Revision ID: 0005_scale
Revises: 0004_search
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_scale"
down_revision: str | None = "0004_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # UNLOGGED on PostgreSQL: a bucket is not worth a WAL flush, which would add a second
    # fsync per capture to the one its row's commit costs; after a crash the table starts
    # empty, which only grants each device a fresh burst.
    unlogged = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "rate_buckets",
        sa.Column(
            "device_id",
            sa.Integer(),
            sa.ForeignKey("devices.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("tokens", sa.Float(), nullable=False),
        sa.Column("updated", sa.Float(), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        prefixes=["UNLOGGED"] if unlogged else [],
    )


def downgrade() -> None:
    op.drop_table("rate_buckets")
