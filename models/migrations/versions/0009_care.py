"""the care desk: care list entries and the "why don't we see you more?" survey

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 16:45:16.891810
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.types

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "care_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=96), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("feedback_id", sa.Integer(), nullable=True),
        sa.Column("detail", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("listed_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("handled_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("handled_by", sa.BigInteger(), nullable=True),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.ForeignKeyConstraint(["feedback_id"], ["feedback.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.ForeignKeyConstraint(["store_id"], ["store.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
    )
    with op.batch_alter_table("care_entry", schema=None) as batch_op:
        batch_op.create_index("ix_care_entry_list", ["store_id", "status", "due_at"], unique=False)
        batch_op.create_index(
            "ix_care_entry_member", ["member_id", "reason", "created_at"], unique=False
        )

    op.create_table(
        "care_survey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("asked_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("asked_by", sa.BigInteger(), nullable=True),
        sa.Column("answered_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=True),
        sa.Column("feedback_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["entry_id"], ["care_entry.id"]),
        sa.ForeignKeyConstraint(["feedback_id"], ["feedback.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.ForeignKeyConstraint(["store_id"], ["store.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("care_survey", schema=None) as batch_op:
        batch_op.create_index("ix_care_survey_answered", ["answered_at"], unique=False)
        batch_op.create_index("ix_care_survey_member_at", ["member_id", "asked_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("care_survey", schema=None) as batch_op:
        batch_op.drop_index("ix_care_survey_member_at")
        batch_op.drop_index("ix_care_survey_answered")
    op.drop_table("care_survey")
    with op.batch_alter_table("care_entry", schema=None) as batch_op:
        batch_op.drop_index("ix_care_entry_member")
        batch_op.drop_index("ix_care_entry_list")
    op.drop_table("care_entry")
