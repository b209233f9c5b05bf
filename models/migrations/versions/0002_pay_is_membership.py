"""members, payments, visits, points ledger, check-ins, bills, fraud events, staff invites, tables

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 09:31:29.237777
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    _telegram_user_dining_table_member()
    _staff_invite_payment()
    _bill_check_in()
    _fraud_event_points_ledger()
    _visit()


def _telegram_user_dining_table_member() -> None:
    with op.batch_alter_table("telegram_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("referred_by_member_id", sa.Integer(), nullable=True))
    op.create_table(
        "dining_table",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["store_id"], ["store.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("store_id", "number", name="uq_table_store_number"),
    )
    op.create_table(
        "member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_user_id", sa.Integer(), nullable=True),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("display_name", sa.String(length=64), nullable=False),
        sa.Column("birthday", sa.Date(), nullable=True),
        sa.Column("marketing_consent", sa.Boolean(), nullable=True),
        sa.Column("consent_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acquisition_channel", sa.String(length=16), nullable=False),
        sa.Column("referrer_member_id", sa.Integer(), nullable=True),
        sa.Column("enrolled_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("tier", sa.String(length=32), nullable=False),
        sa.Column("visit_count", sa.Integer(), nullable=False),
        sa.Column("total_spend", models.types.Money(), nullable=False),
        sa.Column("points_balance", sa.Integer(), nullable=False),
        sa.Column("first_visit_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_visit_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("gap_count", sa.Integer(), nullable=False),
        sa.Column("gap_mean_days", sa.Numeric(precision=10, scale=3), nullable=False),
        sa.Column("erased_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["referrer_member_id"],
            ["member.id"],
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["store.id"],
        ),
        sa.ForeignKeyConstraint(["telegram_user_id"], ["telegram_user.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("telegram_user_id"),
    )


def _staff_invite_payment() -> None:
    op.create_table(
        "staff_invite",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_by", sa.BigInteger(), nullable=True),
        sa.Column("used_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["store.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("amount", models.types.Money(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("refusal", sa.String(length=32), nullable=True),
        sa.Column("table_id", sa.Integer(), nullable=True),
        sa.Column("cashier_telegram_id", sa.BigInteger(), nullable=True),
        sa.Column("points_awarded", sa.Integer(), nullable=False),
        sa.Column("referral_points", sa.Integer(), nullable=False),
        sa.Column("referrer_member_id", sa.Integer(), nullable=True),
        sa.Column("visit_id", sa.Integer(), nullable=True),
        sa.Column("claim_expires_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("credited_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("refunded_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
        ),
        sa.ForeignKeyConstraint(
            ["referrer_member_id"],
            ["member.id"],
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["store.id"],
        ),
        sa.ForeignKeyConstraint(
            ["table_id"],
            ["dining_table.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source", "external_id", name="uq_payment_source_external"),
    )
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.create_index("ix_payment_member_at", ["member_id", "created_at"], unique=False)


def _bill_check_in() -> None:

    op.create_table(
        "bill",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("table_id", sa.Integer(), nullable=True),
        sa.Column("amount", models.types.Money(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payment.id"],
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["store.id"],
        ),
        sa.ForeignKeyConstraint(
            ["table_id"],
            ["dining_table.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("bill", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bill_telegram_id"), ["telegram_id"], unique=False)

    op.create_table(
        "check_in",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payment.id"],
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["store.id"],
        ),
        sa.ForeignKeyConstraint(
            ["table_id"],
            ["dining_table.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("check_in", schema=None) as batch_op:
        batch_op.create_index("ix_check_in_person_at", ["telegram_id", "at"], unique=False)


def _fraud_event_points_ledger() -> None:
    op.create_table(
        "fraud_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.Column("telegram_id", sa.BigInteger(), nullable=True),
        sa.Column("cashier_telegram_id", sa.BigInteger(), nullable=True),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=False),
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
    )
    with op.batch_alter_table("fraud_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fraud_event_at"), ["at"], unique=False)

    op.create_table(
        "points_ledger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["member.id"],
        ),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payment.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("points_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_points_member", ["member_id"], unique=False)


def _visit() -> None:

    op.create_table(
        "visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.Column("table_id", sa.Integer(), nullable=True),
        sa.Column("payment_id", sa.Integer(), nullable=True),
        sa.Column("at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("voided_at", models.types.UTCDateTime(timezone=True), nullable=True),
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
        sa.ForeignKeyConstraint(
            ["table_id"],
            ["dining_table.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.create_index("ix_visit_member_at", ["member_id", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("telegram_user", schema=None) as batch_op:
        batch_op.drop_column("referred_by_member_id")
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.drop_index("ix_visit_member_at")

    op.drop_table("visit")
    with op.batch_alter_table("points_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_points_member")

    op.drop_table("points_ledger")
    with op.batch_alter_table("fraud_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fraud_event_at"))

    op.drop_table("fraud_event")
    with op.batch_alter_table("check_in", schema=None) as batch_op:
        batch_op.drop_index("ix_check_in_person_at")

    op.drop_table("check_in")
    with op.batch_alter_table("bill", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_bill_telegram_id"))

    op.drop_table("bill")
    with op.batch_alter_table("payment", schema=None) as batch_op:
        batch_op.drop_index("ix_payment_member_at")

    op.drop_table("payment")
    op.drop_table("staff_invite")
    op.drop_table("member")
    op.drop_table("dining_table")
