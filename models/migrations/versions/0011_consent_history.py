"""the history of offers consent (given, withdrawn), for /mydata

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 17:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consent_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("via", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("consent_event", schema=None) as batch_op:
        batch_op.create_index("ix_consent_event_member_at", ["member_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("consent_event", schema=None) as batch_op:
        batch_op.drop_index("ix_consent_event_member_at")
    op.drop_table("consent_event")
