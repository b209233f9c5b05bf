"""the staff console: dishes, feedback, broadcasts, taste tags, photos and buttons in the outbox

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 14:36:18.191159
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _dish_feedback()
    _feedback_campaign_coupon_member_outbox()


def _dish_feedback() -> None:
    op.create_table(
        "dish",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("photo", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True),
        sa.Column("tags", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["store_id"], ["store.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("handled_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("handled_by", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
        ),
        sa.ForeignKeyConstraint(
            ["visit_id"],
            ["visit.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("visit_id", "kind", name="uq_feedback_visit_kind"),
    )


def _feedback_campaign_coupon_member_outbox() -> None:
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index("ix_feedback_member_at", ["member_id", "created_at"], unique=False)
        batch_op.create_index(
            "ix_feedback_open", ["handled_at", "kind", "created_at"], unique=False
        )

    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "audience",
                sqlmodel.sql.sqltypes.AutoString(length=1000),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(
            sa.Column(
                "text",
                sqlmodel.sql.sqltypes.AutoString(length=4096),
                nullable=False,
                server_default="",
            )
        )
        batch_op.add_column(sa.Column("versions", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("photo", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True)
        )
        batch_op.add_column(sa.Column("dish_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("finished_at", models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_foreign_key("fk_campaign_dish", "dish", ["dish_id"], ["id"])

    with op.batch_alter_table("coupon", schema=None) as batch_op:
        batch_op.create_index("ix_coupon_reserved_bill", ["reserved_bill_id"], unique=False)
        batch_op.add_column(
            sa.Column("dish_name", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )

    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("taste_tags", sa.String(length=200), nullable=False, server_default="")
        )

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("photo", sqlmodel.sql.sqltypes.AutoString(length=256), nullable=True)
        )
        batch_op.create_index("ix_outbox_campaign_status", ["campaign_id", "status"], unique=False)
        batch_op.add_column(
            sa.Column("buttons", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_campaign_status")
        batch_op.drop_column("buttons")
        batch_op.drop_column("photo")

    with op.batch_alter_table("member", schema=None) as batch_op:
        batch_op.drop_column("taste_tags")

    with op.batch_alter_table("coupon", schema=None) as batch_op:
        batch_op.drop_index("ix_coupon_reserved_bill")
        batch_op.drop_column("dish_name")

    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_constraint("fk_campaign_dish", type_="foreignkey")
        batch_op.drop_column("finished_at")
        batch_op.drop_column("dish_id")
        batch_op.drop_column("photo")
        batch_op.drop_column("versions")
        batch_op.drop_column("text")
        batch_op.drop_column("audience")

    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_open")
        batch_op.drop_index("ix_feedback_member_at")

    op.drop_table("feedback")
    op.drop_table("dish")
