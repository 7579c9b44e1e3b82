"""Images of deleted captures waiting for their removal from storage.

Revision ID: 0006_removals
Revises: 0005_scale
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_removals"
down_revision: str | None = "0005_scale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "image_removals",
        sa.Column("storage_key", sa.String(length=255), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("storage_key", name=op.f("pk_image_removals")),
    )


def downgrade() -> None:
    op.drop_table("image_removals")
