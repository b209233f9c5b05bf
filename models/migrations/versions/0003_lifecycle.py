"""lifecycle: rhythm and due dates, cohort norms, tier changes, job runs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 11:43:12.456234
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cohort_norm",
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("members", sa.Integer(), nullable=False),
        sa.Column("gap_days", sa.Numeric(precision=10, scale=3), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("computed_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "channel", "tier"),
    )
    op.create_table(
        "job_run",
        sa.Column("job", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column("started_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("result", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.PrimaryKeyConstraint("job", "period"),
    )
    op.create_table(
        "tier_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("from_tier", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("to_tier", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("direction", sqlmodel.sql.sqltypes.AutoString(length=4), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("notified_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("tier_change", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tier_change_member_id"), ["member_id"], unique=False)
        batch_op.create_index("ix_tier_change_pending", ["notified_at", "id"], unique=False)

    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("first_gap_days", sa.Numeric(precision=10, scale=3), nullable=True)
        )
        batch_op.add_column(
            sa.Column("expected_interval_days", sa.Numeric(precision=10, scale=3), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "interval_floor_days",
                sa.Numeric(precision=10, scale=3),
                nullable=False,
                server_default=sa.text("0"),
            )
        )
        batch_op.add_column(
            sa.Column("rising", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(
            sa.Column("slowing_due_at", models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("lapsed_due_at", models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("lost_due_at", models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("tier_since", models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index("ix_member_lapsed_due", ["lapsed_due_at"], unique=False)
        batch_op.create_index("ix_member_lost_due", ["lost_due_at"], unique=False)
        batch_op.create_index("ix_member_referrer", ["referrer_member_id"], unique=False)
        batch_op.create_index("ix_member_slowing_due", ["slowing_due_at"], unique=False)
    _backfill_first_gaps()


def _backfill_first_gaps() -> None:
    """Members who already came twice: the days from their first visit to their second (the
    nightly refresh computes the rest of the rhythm)."""
    bind = op.get_bind()
    visit = sa.table(
        "visit",
        sa.column("member_id", sa.Integer),
        sa.column("at", models.types.UTCDateTime()),
        sa.column("voided_at", models.types.UTCDateTime()),
    )
    ranked = (
        sa.select(
            visit.c.member_id,
            visit.c.at,
            sa.func.row_number()
            .over(partition_by=visit.c.member_id, order_by=visit.c.at)
            .label("n"),
        )
        .where(visit.c.voided_at.is_(None))
        .subquery()
    )
    rows = bind.execute(
        sa.select(ranked.c.member_id, ranked.c.at)
        .where(ranked.c.n <= 2)
        .order_by(ranked.c.member_id, ranked.c.at)
    ).all()
    first: dict[int, datetime] = {}
    updates = []
    for member_id, at in rows:
        if member_id in first:
            days = Decimal((at - first[member_id]).total_seconds()) / Decimal(86400)
            updates.append({"m": member_id, "d": days.quantize(Decimal("0.001"))})
        else:
            first[member_id] = at
    if updates:
        member = sa.table("member", sa.column("id", sa.Integer), sa.column("first_gap_days"))
        bind.execute(
            member.update()
            .where(member.c.id == sa.bindparam("m"))
            .values(first_gap_days=sa.bindparam("d")),
            updates,
        )


def downgrade() -> None:
    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_index("ix_member_slowing_due")
        batch_op.drop_index("ix_member_referrer")
        batch_op.drop_index("ix_member_lost_due")
        batch_op.drop_index("ix_member_lapsed_due")
        batch_op.drop_column("tier_since")
        batch_op.drop_column("lost_due_at")
        batch_op.drop_column("lapsed_due_at")
        batch_op.drop_column("slowing_due_at")
        batch_op.drop_column("rising")
        batch_op.drop_column("interval_floor_days")
        batch_op.drop_column("expected_interval_days")
        batch_op.drop_column("first_gap_days")

    with op.batch_alter_table("tier_change", schema=None) as batch_op:
        batch_op.drop_index("ix_tier_change_pending")
        batch_op.drop_index(batch_op.f("ix_tier_change_member_id"))

    op.drop_table("tier_change")
    op.drop_table("job_run")
    op.drop_table("cohort_norm")
