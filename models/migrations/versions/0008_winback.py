"""win-back that follows each diner: recency-weighted gap, turning points, unanswered offers,
adapted coupons, one congratulation per tier

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 17:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "gap_weighted_days",
                sa.Numeric(precision=10, scale=3),
                nullable=False,
                server_default="0",
            )
        )
        batch_op.add_column(
            sa.Column("turn", sa.String(length=8), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("turn_at", models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("cooling_due_at", models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("unanswered_offers", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_index("ix_member_turn_at", ["turn_at"], unique=False)
    # existing members: their mean gap stands in for the weighted one until their next visit
    op.execute("UPDATE member SET gap_weighted_days = gap_mean_days")
    op.execute("UPDATE member SET turn = 'rising' WHERE rising")

    with op.batch_alter_table("coupon", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("adapted", sa.String(length=200), nullable=False, server_default="")
        )

    with op.batch_alter_table("tier_change", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("congratulated_at", models.types.UTCDateTime(timezone=True), nullable=True)
        )
    # upgrades told before this release were congratulated when they were told
    op.execute("UPDATE tier_change SET congratulated_at = notified_at WHERE direction = 'up'")


def downgrade() -> None:
    with op.batch_alter_table("tier_change", schema=None) as batch_op:
        batch_op.drop_column("congratulated_at")

    with op.batch_alter_table("coupon", schema=None) as batch_op:
        batch_op.drop_column("adapted")

    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_index("ix_member_turn_at")
        batch_op.drop_column("unanswered_offers")
        batch_op.drop_column("cooling_due_at")
        batch_op.drop_column("turn_at")
        batch_op.drop_column("turn")
        batch_op.drop_column("gap_weighted_days")
