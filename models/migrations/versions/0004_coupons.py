"""coupons, redemptions, wrong-code attempts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:05:35.645188
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "code_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cashier_telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("code_attempt", schema=None) as batch_op:
        batch_op.create_index(
            "ix_code_attempt_cashier_at", ["cashier_telegram_id", "at"], unique=False
        )

    op.create_table(
        "coupon",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("template", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("value", models.types.Money(), nullable=False),
        sa.Column("min_spend", models.types.Money(), nullable=False),
        sa.Column("cap", models.types.Money(), nullable=True),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
        sa.Column("campaign", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("issued_by", sa.BigInteger(), nullable=True),
        sa.Column("issued_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
        sa.Column("reserved_bill_id", sa.Integer(), nullable=True),
        sa.Column("reserved_until", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("redeemed_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("redeemed_by", sa.BigInteger(), nullable=True),
        sa.Column("bill_amount", models.types.Money(), nullable=True),
        sa.Column("discount", models.types.Money(), nullable=True),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payment.id"],
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["store.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("coupon", schema=None) as batch_op:
        batch_op.create_index("ix_coupon_campaign", ["campaign"], unique=False)
        batch_op.create_index("ix_coupon_member_status", ["member_id", "status"], unique=False)

    op.create_table(
        "coupon_redemption",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("coupon_id", sa.Integer(), nullable=False),
        sa.Column("short_code", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["coupon_id"],
            ["coupon.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("coupon_redemption", schema=None) as batch_op:
        batch_op.create_index(
            "ix_coupon_redemption_code", ["short_code", "expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("coupon_redemption", schema=None) as batch_op:
        batch_op.drop_index("ix_coupon_redemption_code")

    op.drop_table("coupon_redemption")
    with op.batch_alter_table("coupon", schema=None) as batch_op:
        batch_op.drop_index("ix_coupon_member_status")
        batch_op.drop_index("ix_coupon_campaign")

    op.drop_table("coupon")
    with op.batch_alter_table("code_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_code_attempt_cashier_at")

    op.drop_table("code_attempt")
