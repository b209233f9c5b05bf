"""The nightly refresh under seed 001's grades (the `grades` preset), on a real database: the
SQL grades members by monthly averages and any-of rungs as loyalty.tiers does."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from bot import members_cli
from loyalty import audiences, explain, grades, member_account, refresh, tiers
from loyalty.audiences import Segment, SegmentProblem
from loyalty.payments import StoreRef
from loyalty.policy import load_preset
from models.tables import AuditLog, Member, Role
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


async def test_a_manual_grade_survives_the_nightly_refresh_until_its_end_date(
    factory: async_sessionmaker[AsyncSession], store: StoreRef
) -> None:
    """A neighbour who rarely comes, graded A by hand until 31 December: the refresh leaves
    them A every night until then, and grades them by their figures after."""
    async with factory() as session, session.begin():
        member = await add_member(
            session,
            store=store,
            telegram_id=1,
            tier="potential",
            enrolled_at=NOW - timedelta(days=400),
        )
        # ¥100 every week, three weeks ago to five weeks on: on 1 January the nine visits make
        # ¥900 in the window, ¥300 a month: C by the figures (and a weekly guest, not lapsed)
        weekly = [(NOW + timedelta(days=d), D(100)) for d in range(-21, 36, 7)]
        await add_visits(session, member, store=store, visits=weekly)
        assert member.id is not None
        member_id = member.id
        until = grades.end_of_day(date(2026, 12, 31), timezone="Asia/Shanghai")
        grade = await grades.set_grade(
            session,
            member_id=member_id,
            tier="a",
            reason="neighbour, banquets",
            until=until,
            by_telegram_id=99,
            role=Role.OWNER,
            policy=GRADES,
            now=NOW,
        )
    assert (grade.tier, grade.manual, grade.reason) == ("A", True, "neighbour, banquets")
    assert until == datetime(2026, 12, 31, 16, 0, tzinfo=UTC)  # midnight in Shanghai

    async def tier_after_refresh(at: datetime) -> str:
        await refresh.nightly_refresh(factory, policy=GRADES, now=at)
        async with factory() as session:
            found = await session.get(Member, member_id)
            assert found is not None
            return found.tier

    assert await tier_after_refresh(NOW + timedelta(days=1)) == "A"
    assert await tier_after_refresh(until - timedelta(minutes=1)) == "A"
    # the end date passed: graded by the figures again
    assert await tier_after_refresh(until + timedelta(hours=3)) == "C"
    async with factory() as session:
        rows = await session.execute(
            select(col(AuditLog.action), col(AuditLog.detail)).order_by(col(AuditLog.id))
        )
        audit = rows.tuples().all()
    assert audit[-1][0] == "member.grade"
    assert "tier=A" in audit[-1][1]
    assert "reason=neighbour, banquets" in audit[-1][1]


async def test_a_payment_does_not_move_a_manual_grade_and_lifting_it_regrades_at_once(
    factory: async_sessionmaker[AsyncSession], store: StoreRef
) -> None:
    async with factory() as session, session.begin():
        member = await add_member(
            session,
            store=store,
            telegram_id=1,
            tier="potential",
            enrolled_at=NOW - timedelta(days=400),
        )
        await add_visits(session, member, store=store, visits=spread(3, D(800)))  # A figures
        assert member.id is not None
        member_id = member.id
        await grades.set_grade(
            session,
            member_id=member_id,
            tier="potential",
            reason="",
            until=None,
            by_telegram_id=99,
            role=Role.OWNER,
            policy=GRADES,
            now=NOW,
        )
    await refresh.nightly_refresh(factory, policy=GRADES, now=NOW + timedelta(days=400))
    async with factory() as session, session.begin():
        found = await session.get(Member, member_id)
        assert found is not None
        assert found.tier == "potential"
        lifted = await grades.lift_grade(
            session, member_id=member_id, by_telegram_id=99, role=Role.OWNER, policy=GRADES, now=NOW
        )
    assert (lifted.tier, lifted.manual) == ("A", False)


async def test_grade_problems(factory: async_sessionmaker[AsyncSession], store: StoreRef) -> None:
    async with factory() as session, session.begin():
        member = await add_member(
            session, store=store, telegram_id=1, tier="potential", enrolled_at=NOW
        )
        assert member.id is not None
        for tier, until, member_id, reason in [
            ("Z", None, member.id, "no_tier"),
            ("A", NOW - timedelta(days=1), member.id, "past_until"),
            ("A", None, member.id + 1000, "no_member"),
        ]:
            with pytest.raises(grades.GradeProblem) as raised:
                await grades.set_grade(
                    session,
                    member_id=member_id,
                    tier=tier,
                    reason="",
                    until=until,
                    by_telegram_id=99,
                    role=Role.OWNER,
                    policy=GRADES,
                    now=NOW,
                )
            assert raised.value.reason == reason
        with pytest.raises(grades.GradeProblem):
            grades.parse_labels(["neighbour, nobody"], GRADES)
        labels = grades.parse_labels(["Neighbour，student", "neighbour"], GRADES)
        assert labels == ("neighbour", "student")
        grade = await grades.set_labels(
            session,
            member_id=member.id,
            labels=labels,
            by_telegram_id=99,
            role=Role.OWNER,
            policy=GRADES,
            now=NOW,
        )
        assert grade.labels == ("neighbour", "student")
        assert member.labels == ",neighbour,student,"


async def test_a_manual_grade_and_labels_are_what_the_card_explain_and_segments_see(
    factory: async_sessionmaker[AsyncSession], store: StoreRef
) -> None:
    async with factory() as session, session.begin():
        neighbour = await add_member(
            session, store=store, telegram_id=1, tier="potential", enrolled_at=NOW
        )
        other = await add_member(
            session, store=store, telegram_id=2, tier="potential", enrolled_at=NOW
        )
        assert neighbour.id is not None
        assert other.id is not None
        await grades.set_grade(
            session,
            member_id=neighbour.id,
            tier="B",
            reason="neighbour, banquets",
            until=None,
            by_telegram_id=99,
            role=Role.OWNER,
            policy=GRADES,
            now=NOW,
        )
        await grades.set_labels(
            session,
            member_id=neighbour.id,
            labels=("neighbour", "official"),
            by_telegram_id=99,
            role=Role.OWNER,
            policy=GRADES,
            now=NOW,
        )
    async with factory() as session:
        card = await member_account.get_card(session, telegram_id=1, policy=GRADES, now=NOW)
        assert card is not None
        assert (card.tier, card.progress.next_tier) == ("B", None)  # no climb to show
        why = await explain.explain(session, member_id=neighbour.id, policy=GRADES, now=NOW)
        text = members_cli.render(why, GRADES, now=NOW)
        assert "Tier: B (a manager's grade, until lifted by a manager)" in text
        assert "by the figures: potential; reason: neighbour, banquets" in text
        assert "Labels: neighbour, official" in text
        assert "thresholds below are window totals: the policy's figures a month × 90/30" in text
        assert "spend × 0.1" in text
        for segment, expected in [
            (Segment(labels=("neighbour",)), 1),
            (Segment(labels=("student",)), 0),
            (Segment(labels=("student", "official")), 1),
            (Segment(tiers=("B",)), 1),
            (Segment(), 2),
        ]:
            found = await audiences.count(
                session, segment=segment, policy=GRADES, now=NOW, default_locale="en"
            )
            assert found == expected, segment
    with pytest.raises(SegmentProblem):
        Segment(labels=("nobody",)).check(GRADES)
