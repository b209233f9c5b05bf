"""The points ledger: append-only entries (earned on payments and referrals, spent on coupons,
reversed by refunds, expired); a member's balance is the sum of their entries, kept on the member
row in the same transaction as every entry.

Expiry (``points.expire_days``) is first-in, first-out: points earned more than expire_days ago
that have not been spent since expire, in one set-based statement for all members. Points whose
payment was refunded count neither as earned nor as spent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from loyalty.policy import Policy
from models.tables import Member, PointsEntry
from models.types import UTCDateTime

SPENT_REASONS = ("exchange", "expired")
REVERSAL_REASONS = ("refund", "referral_refund")


async def expire_points(session: AsyncSession, *, policy: Policy, now: datetime) -> int:
    """Write the expiry entries due as of `now`; returns the number of members touched."""
    days = policy.points.expire_days
    if days <= 0:
        return 0
    cutoff = now - timedelta(days=days)
    earned, reversal = aliased(PointsEntry), aliased(PointsEntry)
    reversed_ = exists().where(
        col(reversal.payment_id) == col(earned.payment_id),
        col(reversal.member_id) == col(earned.member_id),
        col(reversal.reason).in_(REVERSAL_REASONS),
    )
    old_earned = (
        select(
            col(earned.member_id).label("member_id"),
            func.sum(col(earned.delta)).label("points"),
        )
        .where(col(earned.delta) > 0, col(earned.at) <= cutoff, ~reversed_)
        .group_by(col(earned.member_id))
        .subquery()
    )
    spent = (
        select(
            col(PointsEntry.member_id).label("member_id"),
            (-func.sum(col(PointsEntry.delta))).label("points"),
        )
        .where(col(PointsEntry.reason).in_(SPENT_REASONS))
        .group_by(col(PointsEntry.member_id))
        .subquery()
    )
    due = old_earned.c.points - func.coalesce(spent.c.points, 0)
    balance = col(Member.points_balance)
    # never more than the balance: reversals may already have taken some of it
    amount = (
        func.min(due, balance)
        if session.bind.dialect.name == "sqlite"
        else func.least(due, balance)
    )
    rows = (
        select(
            old_earned.c.member_id,
            -amount,
            literal("expired"),
            literal(now, UTCDateTime()),
        )
        .select_from(old_earned)
        .join(Member, col(Member.id) == old_earned.c.member_id)
        .outerjoin(spent, spent.c.member_id == old_earned.c.member_id)
        .where(and_(due > 0, balance > 0))
    )
    result = await session.execute(
        insert(PointsEntry).from_select(["member_id", "delta", "reason", "at"], rows)
    )
    touched = int(result.rowcount or 0)  # type: ignore[attr-defined]
    if touched:
        fresh = (
            select(func.coalesce(func.sum(col(PointsEntry.delta)), 0))
            .where(col(PointsEntry.member_id) == col(Member.id))
            .scalar_subquery()
        )
        expired_now = select(col(PointsEntry.member_id)).where(
            col(PointsEntry.reason) == "expired", col(PointsEntry.at) == now
        )
        await session.execute(
            update(Member)
            .where(col(Member.id).in_(expired_now))
            .values(points_balance=fresh)
            .execution_options(synchronize_session=False)
        )
    return touched


async def ledger_balance(session: AsyncSession, *, member_id: int) -> int:
    return int(
        await session.scalar(
            select(func.coalesce(func.sum(col(PointsEntry.delta)), 0)).where(
                col(PointsEntry.member_id) == member_id
            )
        )
        or 0
    )
