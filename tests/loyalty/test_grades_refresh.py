"""The nightly refresh under seed 001's grades (the `grades` preset), on a real database: the
SQL grades members by monthly averages and any-of rungs as loyalty.tiers does."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty import refresh, tiers
from loyalty.payments import StoreRef
from loyalty.policy import load_preset
from models.tables import Member
from tests.loyalty.test_refresh import NOW, add_member, add_visits

D = Decimal
GRADES = load_preset("grades")


def spread(count: int, amount: Decimal) -> list[tuple[datetime, Decimal]]:
    """`count` visits of `amount` spread over the last 89 days."""
    return [(NOW - timedelta(days=1 + 88 * i / max(count - 1, 1)), amount) for i in range(count)]


async def test_the_refresh_grades_by_monthly_averages_as_the_rules_do(
    factory: async_sessionmaker[AsyncSession], store: StoreRef
) -> None:
    cases = {
        # ¥800 a month (¥2,400 over 90 days) is A; ¥500 a month B; ¥300 a month C
        1: (spread(3, D(800)), "A"),
        2: (spread(3, D(500)), "B"),
        3: (spread(3, D(300)), "C"),
        4: (spread(3, D("299.99")), "potential"),
        # 8 visits a month (24 in 90 days) is B; 6 a month C
        5: (spread(24, D(1)), "B"),
        6: (spread(18, D(1)), "C"),
        7: (spread(17, D(1)), "potential"),
    }
    async with factory() as session, session.begin():
        ids = {}
        for n, (visits, _) in cases.items():
            member = await add_member(
                session,
                store=store,
                telegram_id=n,
                tier="potential",
                enrolled_at=NOW - timedelta(days=400),
            )
            await add_visits(session, member, store=store, visits=visits)
            ids[n] = member.id
    await refresh.nightly_refresh(factory, policy=GRADES, now=NOW)
    async with factory() as session:
        for n, (_, expected) in cases.items():
            found = await session.get(Member, ids[n])
            assert found is not None
            status = await tiers.status_of(session, member=found, policy=GRADES, now=NOW)
            assert (n, found.tier, status.tier) == (n, expected, expected)
