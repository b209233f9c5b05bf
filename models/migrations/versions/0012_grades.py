"""manual grades and labels on members; adopted suggestions

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 07:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("labels", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("manual_tier", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("manual_tier_until", models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "manual_tier_reason", sa.String(length=200), nullable=False, server_default=""
            )
        )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("adopted_at", models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("adopted_by", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_column("adopted_by")
        batch_op.drop_column("adopted_at")
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_column("manual_tier_reason")
        batch_op.drop_column("manual_tier_until")
        batch_op.drop_column("manual_tier")
        batch_op.drop_column("labels")
