"""points exchanges keyed by their button

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23 13:44:45.146733
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("points_ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_key", sa.String(length=32), nullable=True))
        batch_op.create_unique_constraint("uq_points_member_request", ["member_id", "request_key"])


def downgrade() -> None:
    with op.batch_alter_table("points_ledger", schema=None) as batch_op:
        batch_op.drop_constraint("uq_points_member_request", type_="unique")
        batch_op.drop_column("request_key")
