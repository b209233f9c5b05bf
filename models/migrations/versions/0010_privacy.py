"""privacy: messages to someone else that quote a member (erasure blanks them)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 17:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("about_member_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_outbox_about_member", ["about_member_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_about_member")
        batch_op.drop_column("about_member_id")
