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


NO_GRACE = "[tiers]\ndowngrade_grace_days = 0\n"
"""These tests read the tier window as written; the grace after it has a test of its own."""


def policy_with(tmp_path: Path, text: str, *, grace: bool = False) -> Policy:
    file = tmp_path / "policy.toml"
    file.write_text(f'preset = "frequency"\n{"" if grace else NO_GRACE}{text}', encoding="utf-8")
    return load_policy(file)


@pytest.fixture
def policy(tmp_path: Path) -> Policy:
    """The frequency preset without the downgrade grace."""
    return policy_with(tmp_path, "")


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
    assert [(r.kind, r.member_id, r.period, r.points, r.day, r.last_day) for r in found] == [
        (
            reminders.POINTS_EXPIRING,
            member,
            (today + timedelta(days=7)).isoformat(),  # told about the days up to then
            100,
            today + timedelta(days=7),
            today + timedelta(days=7),
        )
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
    assert [(r.kind, r.member_id, r.period, r.day, r.coupon and r.coupon.id) for r in found] == [
        (
            reminders.COUPON_EXPIRING,
            member,
            f"coupon{given['soon']}",
            today + timedelta(days=3),
            given["soon"],
        )
    ]


# -- near a reward -----------------------------------------------------------------------------


async def test_near_a_reward_by_points_counts_the_members_usual_bill(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    # ¥10 off costs 300 points; one visit each, so the usual bill is the one paid
    far = await pay(factory, store, policy, who=1, at=START, amount=120)  # 180 short: no
    near = await pay(factory, store, policy, who=2, at=START, amount=160)  # 140 short
    just = await pay(factory, store, policy, who=3, at=START, amount=150)  # 150 short: exactly
    rich = await pay(factory, store, policy, who=4, at=START, amount=400)  # can buy it: no
    async with factory() as session:
        found = await reminders.near_rewards(
            session, policy=policy, now=START + timedelta(hours=18), timezone=ZONE
        )
    assert sorted(
        (r.kind, r.member_id, r.points, r.visits, r.template, r.period, r.currency) for r in found
    ) == [
        (reminders.NEAR_REWARD, near, 140, 1, "ten_off", "ten_off:0", "CNY"),
        (reminders.NEAR_REWARD, just, 150, 1, "ten_off", "ten_off:0", "CNY"),
    ]
    assert {far, rich}.isdisjoint(r.member_id for r in found)
    async with factory() as session:
        later = await reminders.near_rewards(
            session, policy=policy, now=START + timedelta(days=4), timezone=ZONE
        )
    assert later == []  # no recent visit: nothing new brought them closer


async def test_near_the_cheapest_reward_not_yet_affordable_and_again_after_an_exchange(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, tmp_path: Path
) -> None:
    policy = policy_with(
        tmp_path,
        "[[points.exchange]]\ntemplate = 'forty_off_150'\ncost = 800\n"
        "[[points.exchange]]\ntemplate = 'ten_off'\ncost = 300\n"
        "[[points.exchange]]\ntemplate = 'twenty_off_100'\ncost = 500\n",
    )
    member = await pay(factory, store, policy, who=1, at=START, amount=300)
    async with factory() as session:
        found = await reminders.near_rewards(
            session, policy=policy, now=START + timedelta(hours=18), timezone=ZONE
        )
    # 300 points buy ¥10 off (300) already: the next is ¥20 off at 500, one visit away
    assert [(r.template, r.points, r.period) for r in found] == [
        ("twenty_off_100", 200, "twenty_off_100:0")
    ]
    async with factory() as session, session.begin():
        await coupons.exchange_points(
            session, member_id=member, template_key="ten_off", policy=policy, now=START
        )
    await pay(factory, store, policy, who=1, at=START + timedelta(days=2), amount=300)
    async with factory() as session:
        again = await reminders.near_rewards(
            session, policy=policy, now=START + timedelta(days=2, hours=18), timezone=ZONE
        )
    # one exchange made: a new approach to the same reward is a new reminder
    assert [(r.template, r.points, r.period) for r in again] == [
        ("twenty_off_100", 200, "twenty_off_100:1")
    ]


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


async def test_near_the_next_tier_not_when_spend_is_missing_too(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, tmp_path: Path
) -> None:
    value = load_policy(_file(tmp_path, 'preset = "value"\n'))
    # B takes 3 visits and ¥600 within 90 days; members are graded after 60 days
    low = high = 0
    for day, amount in ((0, 100), (62, 100)):
        low = await pay(factory, store, value, who=1, at=START + timedelta(days=day), amount=amount)
    for day, amount in ((0, 300), (62, 300)):
        high = await pay(
            factory, store, value, who=2, at=START + timedelta(days=day), amount=amount
        )
    async with factory() as session:
        found = await reminders.near_rewards(
            session, policy=value, now=START + timedelta(days=62, hours=18), timezone=ZONE
        )
    by_member = {r.member_id: (r.tier, r.template) for r in found}
    assert by_member[high] == ("B", None)  # one visit does it: ¥600 spent already
    assert by_member[low] == (None, "ten_off")  # one visit is not enough for B: its points are


def _file(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "value.toml"
    file.write_text(text, encoding="utf-8")
    return file


async def test_near_the_next_tier_two_visits_away_when_the_policy_says_two(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, tmp_path: Path
) -> None:
    policy = policy_with(tmp_path, "[reminders]\nnear_reward_visits = 2\n")
    member = 0
    for day in (0, 5):
        member = await pay(factory, store, policy, who=1, at=START + timedelta(days=day), amount=20)
    async with factory() as session:
        found = await reminders.near_rewards(
            session, policy=policy, now=START + timedelta(days=5, hours=18), timezone=ZONE
        )
    assert [(r.member_id, r.tier, r.visits) for r in found] == [(member, "regular", 2)]


@pytest.mark.parametrize(
    "setting",
    [
        "holdout_share = 0.0",  # (all on)
        "points_expiring_days = 0",
        "coupon_expiring_days = 0",
        "near_reward_visits = 0",
        "anniversary = false",
    ],
)
async def test_each_reminder_can_be_turned_off(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, tmp_path: Path, setting: str
) -> None:
    policy = policy_with(
        tmp_path,
        f"[reminders]\n{setting}\n[points]\nexpire_days = 30\n"
        "[coupons.templates.soon]\nkind = 'amount'\nvalue = 5\nvalid_days = 2\n",
    )
    last, member = START, 0
    for day in (0, 30, 60, 85, 360):  # points expiring, one visit from a tier, a year old
        last = START + timedelta(days=day)
        member = await pay(factory, store, policy, who=1, at=last, amount=160)
    async with factory() as session, session.begin():
        await coupons.gift(
            session,
            member_id=member,
            template_key="soon",
            by_telegram_id=9,
            policy=policy,
            now=last - timedelta(days=1),
        )
    now = last + timedelta(hours=17)  # 03:00 in Shanghai the next day
    today = now.astimezone(ZoneInfo(ZONE)).date()
    async with factory() as session:
        found = {
            r.kind
            for r in [
                *await reminders.points_expiring(
                    session,
                    policy=policy,
                    today=today,
                    refreshes=refreshes(today, policy.reminders.points_expiring_days),
                ),
                *await reminders.coupons_expiring(
                    session, policy=policy, now=now, today=today, timezone=ZONE
                ),
                *await reminders.near_rewards(session, policy=policy, now=now, timezone=ZONE),
                *await reminders.anniversaries(
                    session, policy=policy, today=today + timedelta(days=5), timezone=ZONE
                ),
            ]
        }
    off = {
        "points_expiring_days": reminders.POINTS_EXPIRING,
        "coupon_expiring_days": reminders.COUPON_EXPIRING,
        "near_reward_visits": reminders.NEAR_REWARD,
        "anniversary": reminders.ANNIVERSARY,
    }.get(setting.split(" ")[0])
    expected = {
        reminders.POINTS_EXPIRING,
        reminders.COUPON_EXPIRING,
        reminders.NEAR_REWARD,
        reminders.ANNIVERSARY,
    } - {off}
    assert found == expected


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


async def test_keep_tier_goes_through_every_member_and_every_tier_above_the_floor(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    on_rhythm = 0
    for day in (0, 30, 60, 85):
        on_rhythm = await pay(factory, store, policy, who=1, at=START + timedelta(days=day))
    for day in (0, 20, 40, 60, 80):  # can spare a visit
        await pay(factory, store, policy, who=2, at=START + timedelta(days=day))
    early = START - timedelta(hours=6)  # 04:00 in Shanghai: the previous day in UTC
    occasional = regular = 0
    for day in (0, 50):
        occasional = await pay(factory, store, policy, who=3, at=early + timedelta(days=day))
    for day in (0, 30, 60, 85):
        regular = await pay(factory, store, policy, who=4, at=early + timedelta(days=day))
    async with factory() as session, session.begin():
        await session.execute(
            update(Member)
            .where(col(Member.id) == on_rhythm)
            .values(expected_interval_days=Decimal(3))
        )
    async with factory() as session:
        found = await reminders.keep_tier(
            session, policy=policy, now=START + timedelta(days=87), timezone=ZONE
        )
    drop = (early + timedelta(days=90)).astimezone(ZoneInfo(ZONE)).date()
    assert drop != (early + timedelta(days=90)).date()  # the store's day, not UTC's
    assert sorted((r.kind, r.member_id, r.tier, r.day, r.period) for r in found) == [
        (reminders.KEEP_TIER, occasional, "occasional", drop, f"occasional:{drop}"),
        (reminders.KEEP_TIER, regular, "regular", drop, f"regular:{drop}"),
    ]


async def test_keep_tier_can_be_turned_off(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, tmp_path: Path
) -> None:
    policy = policy_with(tmp_path, "[reminders]\nkeep_tier_days = 0\n")
    for day in (0, 30, 60, 85):
        await pay(factory, store, policy, who=1, at=START + timedelta(days=day))
    now = START + timedelta(days=87)
    async with factory() as session:
        assert await reminders.keep_tier(session, policy=policy, now=now, timezone=ZONE) == []
        assert await reminders.keep_tier(
            session, policy=policy_with(tmp_path, ""), now=now, timezone=ZONE
        )


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
    # 01:00 on 2 March in Shanghai: still 1 March in UTC
    one_year = await pay(factory, store, policy, who=4, at=local(date(2026, 3, 2), 1))
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
        first_of_march = await reminders.anniversaries(
            session, policy=policy, today=date(2027, 3, 1), timezone=ZONE
        )
    assert {(r.member_id, r.years, r.day, r.period) for r in on_the_day} == {
        (leap, 3, date(2027, 2, 28), "2027"),  # 29 February: 28 February in common years
        (two_years, 2, date(2027, 2, 24), "2027"),
    }
    assert {r.member_id for r in first_of_march} == {leap, two_years}  # not yet: local day
    assert {(r.member_id, r.years) for r in late} == {(leap, 3), (two_years, 2), (one_year, 1)}
    assert {r.member_id for r in too_late} == {leap, one_year}
    assert all(r.kind == reminders.ANNIVERSARY for r in late)


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


async def test_keep_tier_names_the_day_after_the_downgrade_grace(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, tmp_path: Path
) -> None:
    graced = policy_with(tmp_path, "", grace=True)  # the preset: a downgrade waits 30 days
    grace = graced.tiers.downgrade_grace_days
    assert grace > 0
    member = 0
    for day in (0, 30, 60, 85):  # Regular; day 0 leaves the window on day 90, the grace on 120
        member = await pay(factory, store, graced, who=1, at=START + timedelta(days=day))
    async with factory() as session:
        early = await reminders.keep_tier(
            session, policy=graced, now=START + timedelta(days=87), timezone=ZONE
        )
        found = await reminders.keep_tier(
            session, policy=graced, now=START + timedelta(days=87 + grace), timezone=ZONE
        )
    assert early == []  # the window alone would have named day 90: the tier does not go then
    drop = (START + timedelta(days=90 + grace)).astimezone(ZoneInfo(ZONE)).date()
    assert [(r.member_id, r.tier, r.day) for r in found] == [(member, "regular", drop)]
