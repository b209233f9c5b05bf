"""The points ledger: append-only entries (earned on payments and referrals, spent on coupons,
reversed by refunds, expired); a member's balance is the sum of their entries, kept on the member
row in the same transaction as every entry.

Expiry (``points.expire_days``) is first-in, first-out: points earned more than expire_days ago
that have not been spent since expire, in one set-based statement for all members. Points whose
payment was refunded count neither as earned nor as spent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Exists, Select, and_, exists, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from loyalty.policy import Policy
from models.tables import Member, PointsEntry
from models.types import UTCDateTime

SPENT_REASONS = ("exchange", "expired")
REVERSAL_REASONS = ("refund", "referral_refund")


def _refunded(earned: type[PointsEntry]) -> Exists:
    """SQL: the points of entry `earned` were taken back by a refund."""
    reversal = aliased(PointsEntry)
    return exists().where(
        col(reversal.payment_id) == col(earned.payment_id),
        col(reversal.member_id) == col(earned.member_id),
        col(reversal.reason).in_(REVERSAL_REASONS),
    )


def _expirable(session: AsyncSession, *, cutoff: datetime) -> Select[tuple[int, int]]:
    """(member id, points) that expire once points earned up to `cutoff` have expired, as of
    the ledger now: earned by then and not refunded, less everything spent or expired already,
    never more than the balance (reversals may already have taken some of it)."""
    earned = aliased(PointsEntry)
    reversed_ = _refunded(earned)
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
    amount = (
        func.min(due, balance)
        if session.bind.dialect.name == "sqlite"
        else func.least(due, balance)
    )
    return (
        select(old_earned.c.member_id, amount.label("points"))
        .select_from(old_earned)
        .join(Member, col(Member.id) == old_earned.c.member_id)
        .outerjoin(spent, spent.c.member_id == old_earned.c.member_id)
        .where(and_(due > 0, balance > 0))
    )


async def expiring_by(session: AsyncSession, *, policy: Policy, at: datetime) -> dict[int, int]:
    """Points a refresh at `at` would expire, by member, if nobody spends any before then (what
    :func:`expire_points` will write then, as the ledger stands now)."""
    days = policy.points.expire_days
    if days <= 0:
        return {}
    rows = await session.execute(_expirable(session, cutoff=at - timedelta(days=days)))
    return {int(member_id): int(points) for member_id, points in rows.all()}


async def expiry_schedule(
    session: AsyncSession,
    *,
    policy: Policy,
    member_ids: Sequence[int],
    refreshes: Sequence[datetime],
) -> dict[int, list[int]]:
    """For each member, the points each of the coming `refreshes` (in order) will have expired
    by then, counted from now, if they spend none before: :func:`expire_points`'s rule, refresh
    by refresh (members with nothing to lose by the last one are left out)."""
    days = policy.points.expire_days
    if days <= 0 or not member_ids or not refreshes:
        return {}
    expiry = timedelta(days=days)
    earned = aliased(PointsEntry)
    entries = await session.execute(
        select(col(earned.member_id), col(earned.at), col(earned.delta))
        .where(
            col(earned.member_id).in_(member_ids),
            col(earned.delta) > 0,
            col(earned.at) <= max(refreshes) - expiry,
            ~_refunded(earned),
        )
        .order_by(col(earned.member_id), col(earned.at))
    )
    spent_rows = await session.execute(
        select(col(PointsEntry.member_id), -func.sum(col(PointsEntry.delta)))
        .where(
            col(PointsEntry.member_id).in_(member_ids),
            col(PointsEntry.reason).in_(SPENT_REASONS),
        )
        .group_by(col(PointsEntry.member_id))
    )
    spent = {int(member_id): int(points or 0) for member_id, points in spent_rows.all()}
    balance_rows = await session.execute(
        select(col(Member.id), col(Member.points_balance)).where(col(Member.id).in_(member_ids))
    )
    balances = {int(member_id or 0): int(points) for member_id, points in balance_rows.all()}
    earnings: dict[int, list[tuple[datetime, int]]] = {}
    for member_id, at, delta in entries.all():
        earnings.setdefault(int(member_id), []).append((at, int(delta)))
    schedule: dict[int, list[int]] = {}
    for member_id, earned_points in earnings.items():
        used, balance = spent.get(member_id, 0), balances.get(member_id, 0)
        amounts = [
            max(0, min(balance, sum(d for at, d in earned_points if at <= r - expiry) - used))
            for r in refreshes
        ]
        if amounts[-1] > 0:
            schedule[member_id] = amounts
    return schedule


async def expire_points(session: AsyncSession, *, policy: Policy, now: datetime) -> int:
    """Write the expiry entries due as of `now`; returns the number of members touched."""
    days = policy.points.expire_days
    if days <= 0:
        return 0
    due = _expirable(session, cutoff=now - timedelta(days=days)).subquery()
    rows = select(
        due.c.member_id, -due.c.points, literal("expired"), literal(now, UTCDateTime())
    ).select_from(due)
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
