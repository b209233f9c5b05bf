"""Who is due for which reminder, on a real database: the rules of loyalty.reminders at their
edges (the end-to-end runs through the emulator are in tests/app/test_reminders.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from loyalty import coupons, outbox, points, reminders
from loyalty.channels import Channel
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment
from loyalty.policy import Policy, load_policy
from models.tables import Coupon, Member
from tests.loyalty.test_policy import error_for

ZONE = "Asia/Shanghai"
START = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai


def policy_with(tmp_path: Path, text: str) -> Policy:
    file = tmp_path / "policy.toml"
    file.write_text(f'preset = "frequency"\n{text}', encoding="utf-8")
    return load_policy(file)


async def pay(
    factory: async_sessionmaker[AsyncSession],
    store: StoreRef,
    policy: Policy,
    *,
    who: int,
    at: datetime,
    amount: int = 100,
) -> int:
    async with factory() as session, session.begin():
        outcome = await record_payment(
            session,
            source=PaymentSource.POS,
            external_id=f"{who}-{at.isoformat()}",
            store=store,
            amount=Decimal(amount),
            currency="CNY",
            payer=Payer(telegram_id=who, first_name=f"m{who}", channel=Channel.TABLE_QR),
            policy=policy,
            now=at,
        )
    return outcome.member_id


def local(day: date, hour: int = 3) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=ZoneInfo(ZONE))


def refreshes(today: date, days: int) -> list[tuple[date, datetime]]:
    coming = [today + timedelta(days=i) for i in range(1, days + 1)]
    return [(day, local(day)) for day in coming]


# -- points ------------------------------------------------------------------------------------


async def test_points_expiring_over_several_days_name_the_first_and_the_last(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, tmp_path: Path
) -> None:
    policy = policy_with(tmp_path, "[points]\nexpire_days = 30\n")
    member = await pay(factory, store, policy, who=1, at=START, amount=100)
    await pay(factory, store, policy, who=1, at=START + timedelta(days=2), amount=50)
    await pay(factory, store, policy, who=1, at=START + timedelta(days=20), amount=70)
    today = START.astimezone(ZoneInfo(ZONE)).date() + timedelta(days=24)
    async with factory() as session:
        found = await reminders.points_expiring(
            session, policy=policy, today=today, refreshes=refreshes(today, 7)
        )
    # earned on day 0 and day 2 at 10:00: the refreshes of days 31 and 33 take them; day 20's
    # points are beyond the week
    assert [(r.member_id, r.points, r.day, r.last_day) for r in found] == [
        (member, 100, today + timedelta(days=7), today + timedelta(days=7))
    ]
    later = today + timedelta(days=2)
    async with factory() as session:
        found = await reminders.points_expiring(
            session, policy=policy, today=later, refreshes=refreshes(later, 7)
        )
    assert [(r.member_id, r.points, r.day, r.last_day) for r in found] == [
        (member, 150, later + timedelta(days=5), later + timedelta(days=7))
    ]


async def test_told_points_are_not_told_again_until_the_days_they_covered_have_passed(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, tmp_path: Path
) -> None:
    policy = policy_with(tmp_path, "[points]\nexpire_days = 30\n")
    member = await pay(factory, store, policy, who=1, at=START, amount=100)
    await pay(factory, store, policy, who=1, at=START + timedelta(days=5), amount=40)
    first = START.astimezone(ZoneInfo(ZONE)).date() + timedelta(days=24)
    async with factory() as session, session.begin():
        await session.execute(update(Member).values(marketing_consent=True))
        campaign = await outbox.ensure_campaign(
            session,
            kind=reminders.POINTS_EXPIRING,
            period=first.isoformat(),
            holdout_share=0,
            now=START,
        )
        planned = await outbox.plan(
            session,
            campaign=campaign,
            audience=await outbox.recipients(session, member_ids=[member]),
            render=_render,
            policy=policy,
            now=local(first),
            periods={member: (first + timedelta(days=7)).isoformat()},
        )
    assert planned.deferred == 1  # told on day 24 about the days up to day 31
    for offset, expected in ((1, []), (6, []), (7, [40])):
        today = first + timedelta(days=offset)
        if offset == 7:  # day 31's refresh took the first 100
            async with factory() as session, session.begin():
                await points.expire_points(session, policy=policy, now=local(today))
        async with factory() as session:
            found = await reminders.points_expiring(
                session, policy=policy, today=today, refreshes=refreshes(today, 7)
            )
        assert [r.points for r in found] == expected, offset


async def _render(person: outbox.Recipient, holdout: bool) -> tuple[str, int | None]:
    return "reminder", None


async def test_the_schedule_agrees_with_what_the_refresh_expires(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, tmp_path: Path
) -> None:
    policy = policy_with(tmp_path, "[points]\nexpire_days = 10\n")
    member = await pay(factory, store, policy, who=1, at=START, amount=100)
    await pay(factory, store, policy, who=1, at=START + timedelta(days=3), amount=30)
    today = START.astimezone(ZoneInfo(ZONE)).date()
    moments = [local(today + timedelta(days=i)) for i in range(1, 16)]
    async with factory() as session:
        schedule = await points.expiry_schedule(
            session, policy=policy, member_ids=[member], refreshes=moments
        )
    expired = []
    for moment in moments:
        async with factory() as session, session.begin():
            await points.expire_points(session, policy=policy, now=moment)
            row = await session.get(Member, member)
            assert row is not None
            expired.append(130 - row.points_balance)
    assert schedule[member] == expired
    assert (expired[9], expired[10], expired[12], expired[13]) == (0, 100, 100, 130)


# -- coupons -----------------------------------------------------------------------------------


async def test_only_usable_coupons_in_their_last_days_are_recalled(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, tmp_path: Path
) -> None:
    policy = policy_with(
        tmp_path,
        "[coupons.templates.soon]\nkind = 'amount'\nvalue = 5\nvalid_days = 4\n"
        "[coupons.templates.far]\nkind = 'amount'\nvalue = 5\nvalid_days = 5\n"
        "[coupons.templates.short]\nkind = 'amount'\nvalue = 5\nvalid_days = 3\n",
    )
    member = await pay(factory, store, policy, who=1, at=START)
    now = START + timedelta(days=1, hours=1)
    given = {}
    async with factory() as session, session.begin():
        for label, key, at in (
            ("soon", "soon", START),  # last day: day 4
            ("far", "far", START),  # day 5: beyond the three days
            ("used", "soon", START),  # redeemed below
            ("fresh", "short", now - timedelta(hours=1)),  # day 4 too, but given an hour ago
        ):
            view = await coupons.gift(
                session,
                member_id=member,
                template_key=key,
                by_telegram_id=9,
                policy=policy,
                now=at,
            )
            given[label] = view.id
        await session.execute(
            update(Coupon).where(col(Coupon.id) == given["used"]).values(status="redeemed")
        )
    today = now.astimezone(ZoneInfo(ZONE)).date()
    async with factory() as session:
        found = await reminders.coupons_expiring(
            session, policy=policy, now=now, today=today, timezone=ZONE
        )
    assert [(r.period, r.day) for r in found] == [
        (f"coupon{given['soon']}", today + timedelta(days=3))
    ]


# -- near a reward -----------------------------------------------------------------------------


async def test_near_a_reward_by_points_counts_the_members_usual_bill(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    # ¥10 off costs 300 points; usual bills: 120 (180 short after one visit: no), 160 (140 short)
    far = await pay(factory, store, policy, who=1, at=START, amount=120)
    near = await pay(factory, store, policy, who=2, at=START, amount=160)
    async with factory() as session:
        found = await reminders.near_rewards(
            session, policy=policy, now=START + timedelta(hours=18), timezone=ZONE
        )
    assert [(r.member_id, r.points, r.visits, r.template, r.period) for r in found] == [
        (near, 140, 1, "ten_off", "ten_off:0")
    ]
    assert far not in {r.member_id for r in found}
    async with factory() as session:
        later = await reminders.near_rewards(
            session, policy=policy, now=START + timedelta(days=4), timezone=ZONE
        )
    assert later == []  # no recent visit: nothing new brought them closer


async def test_near_the_next_tier_only_when_visits_alone_are_missing(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    member = 0
    for day in (0, 5, 10):
        member = await pay(factory, store, policy, who=1, at=START + timedelta(days=day), amount=20)
    async with factory() as session:
        found = await reminders.near_rewards(
            session, policy=policy, now=START + timedelta(days=10, hours=18), timezone=ZONE
        )
    deadline = (START + timedelta(days=90)).astimezone(ZoneInfo(ZONE)).date()
    assert [(r.member_id, r.tier, r.visits, r.day, r.period) for r in found] == [
        (member, "regular", 1, deadline, f"regular:{deadline.isoformat()}")
    ]


async def test_near_rewards_off(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, tmp_path: Path
) -> None:
    policy = policy_with(tmp_path, "[reminders]\nnear_reward_visits = 0\n")
    await pay(factory, store, policy, who=2, at=START, amount=160)
    async with factory() as session:
        assert await reminders.near_rewards(session, policy=policy, now=START, timezone=ZONE) == []


# -- keeping a tier ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interval_days", "told"),
    [(None, True), (3.0, False), (20.0, True), (1.0, True)],
    ids=["no rhythm yet", "due before the drop", "due after the drop", "due already past"],
)
async def test_keep_tier_leaves_members_on_rhythm_alone(
    factory: async_sessionmaker[AsyncSession],
    store: StoreRef,
    policy: Policy,
    interval_days: float | None,
    told: bool,
) -> None:
    member = 0
    for day in (0, 30, 60, 85):  # Regular (4 in 90 days) until day 90, when day 0 leaves
        member = await pay(factory, store, policy, who=1, at=START + timedelta(days=day))
    async with factory() as session, session.begin():
        await session.execute(
            update(Member)
            .where(col(Member.id) == member)
            .values(
                expected_interval_days=(
                    Decimal(str(interval_days)) if interval_days is not None else None
                )
            )
        )
    now = START + timedelta(days=87)  # the drop is three days ahead
    async with factory() as session:
        row = await session.get(Member, member)
        assert row is not None
        assert row.tier == "regular"
        found = await reminders.keep_tier(session, policy=policy, now=now, timezone=ZONE)
    drop = (START + timedelta(days=90)).astimezone(ZoneInfo(ZONE)).date()
    expected = [(member, "regular", drop)] if told else []
    assert [(r.member_id, r.tier, r.day) for r in found] == expected


async def test_keep_tier_is_quiet_when_an_older_visit_can_be_spared(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    for day in (0, 20, 40, 60, 80):  # five visits: losing day 0's still leaves four
        await pay(factory, store, policy, who=1, at=START + timedelta(days=day))
    async with factory() as session:
        found = await reminders.keep_tier(
            session, policy=policy, now=START + timedelta(days=85), timezone=ZONE
        )
    assert found == []


# -- anniversaries -----------------------------------------------------------------------------


async def test_anniversaries_leap_day_and_late_greetings(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    leap = await pay(factory, store, policy, who=1, at=local(date(2024, 2, 29), 12))
    two_years = await pay(factory, store, policy, who=2, at=local(date(2025, 2, 24), 12))
    await pay(factory, store, policy, who=3, at=local(date(2026, 12, 1), 12))  # not a year yet
    async with factory() as session:
        on_the_day = await reminders.anniversaries(
            session, policy=policy, today=date(2027, 2, 28), timezone=ZONE
        )
        late = await reminders.anniversaries(
            session, policy=policy, today=date(2027, 3, 2), timezone=ZONE
        )
        too_late = await reminders.anniversaries(
            session, policy=policy, today=date(2027, 3, 3), timezone=ZONE
        )
    assert {(r.member_id, r.years, r.day, r.period) for r in on_the_day} == {
        (leap, 3, date(2027, 2, 28), "2027"),  # 29 February: 28 February in common years
        (two_years, 2, date(2027, 2, 24), "2027"),
    }
    assert {r.member_id for r in late} == {leap, two_years}
    assert {r.member_id for r in too_late} == {leap}


# -- points multipliers ------------------------------------------------------------------------


def test_multipliers_announced_are_those_tied_to_weekdays(tmp_path: Path) -> None:
    policy = policy_with(
        tmp_path,
        "[[points.multipliers]]\nweekdays = ['tue']\nhours = '14:00-17:00'\nfactor = 2\n"
        "[[points.multipliers]]\nhours = '08:00-09:00'\nfactor = 3\n"
        "[[points.multipliers]]\nweekdays = ['fri']\nhours = '22:00-02:00'\nfactor = 2\n",
    )
    tuesday, _daily, late = policy.points.multipliers
    assert reminders.multipliers_on(policy, date(2026, 11, 24)) == (tuesday,)  # a Tuesday
    assert reminders.multipliers_on(policy, date(2026, 11, 25)) == ()
    assert reminders.still_ahead(tuesday, time(9))
    assert not reminders.still_ahead(tuesday, time(17))
    assert reminders.still_ahead(late, time(23, 30))


# -- the policy --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            "[points]\nexpire_days = 7\n[reminders]\npoints_expiring_days = 7\n",
            "reminders.points_expiring_days must be less than points.expire_days (7), not 7",
        ),
        (
            "[reminders]\nannounce_multipliers = true\n",
            "reminders.announce_multipliers is true, but no points.multipliers rule names weekdays",
        ),
        ("[reminders]\nkeep_tier_days = -1\n", "reminders.keep_tier_days must be at least 0"),
        ("[reminders]\ncoupon_expiring_days = 31\n", "reminders.coupon_expiring_days must be at"),
        ("[reminders]\nanniversery = true\n", "did you mean 'anniversary'?"),
        ("[reminders]\nanniversary = 1\n", "reminders.anniversary must be true or false"),
        ("[reminders]\nholdout_share = 0.9\n", "reminders.holdout_share must be at most 0.5"),
    ],
)
def test_reminder_settings_name_the_key(tmp_path: Path, text: str, says: str) -> None:
    assert says in error_for(tmp_path, f'preset = "frequency"\n{text}')


def test_reminder_kinds_fit_a_campaign_kind() -> None:
    assert all(len(kind) <= 24 for kind in reminders.KINDS)  # Campaign.kind is 24 wide
