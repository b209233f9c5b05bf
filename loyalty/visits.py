"""Table QR check-in: a pending visit that a payment will complete."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty import coupons, stores
from loyalty.errors import DomainError
from models import queries
from models.tables import Member


class UnknownTable(DomainError):
    """The QR was signed by us but names a store or table that does not exist (any more)."""


@dataclass(frozen=True, slots=True)
class MemberSummary:
    member_id: int
    display_name: str
    tier: str
    visit_count: int
    points_balance: int
    usable_coupons: int = 0


@dataclass(frozen=True, slots=True)
class CheckInResult:
    store_id: int
    store_name: str
    currency: str
    timezone: str
    table_id: int
    table_number: int
    member: MemberSummary | None


def summarize(member: Member) -> MemberSummary:
    assert member.id is not None
    return MemberSummary(
        member_id=member.id,
        display_name=member.display_name,
        tier=member.tier,
        visit_count=member.visit_count,
        points_balance=member.points_balance,
    )


async def check_in(
    session: AsyncSession, *, telegram_id: int, store_id: int, table_number: int, now: datetime
) -> CheckInResult:
    """Note who sits at which table. Several diners at one table each get their own check-in."""
    store = await stores.store_info(session, store_id=store_id)
    table_id = await stores.table_id(session, store_id=store_id, number=table_number)
    if store is None or table_id is None:
        raise UnknownTable(f"store {store_id} table {table_number}")
    await queries.add_check_in(
        session, telegram_id=telegram_id, store_id=store.id, table_id=table_id, now=now
    )
    member = await queries.get_member_by_telegram_id(session, telegram_id=telegram_id)
    summary = None
    if member is not None and member.id is not None:
        usable = await coupons.count_usable(session, member_id=member.id, now=now)
        summary = replace(summarize(member), usable_coupons=usable)
    return CheckInResult(
        store_id=store.id,
        store_name=store.name,
        currency=store.currency,
        timezone=store.timezone,
        table_id=table_id,
        table_number=table_number,
        member=summary,
    )


async def member_summary(session: AsyncSession, *, telegram_id: int) -> MemberSummary | None:
    member = await queries.get_member_by_telegram_id(session, telegram_id=telegram_id)
    return summarize(member) if member is not None else None


async def member_summary_by_id(session: AsyncSession, *, member_id: int) -> MemberSummary | None:
    member = await session.get(Member, member_id)
    if member is None or member.erased_at is not None:
        return None
    return summarize(member)
