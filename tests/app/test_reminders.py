"""The reminders, as members get them: the sandbox clock moves day by day, the scheduler plans,
the outbox delivers through the emulator, and each member's chat is read back.

The policy here turns the automated campaigns and the holidays off, so that nothing but the
reminders competes for the weekly cap; the double-points announcement is on only in the test about
it (its Tuesday would otherwise take a cap slot in whichever week the suite happens to run), so the
calendar the tests run on does not matter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlmodel import col

from bot.config import Settings
from bot.sandbox_run import SANDBOX_OWNER_ID, SandboxRun, sandbox
from loyalty import coupons, outbox
from loyalty.channels import Channel
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment
from models.tables import Member, PointsEntry
from sandbox.client import SandboxClient
from ui.formatting import format_date

DANA, LI_NA, CHEN_MING = 1_000_101, 1_000_102, 1_000_103
NAMES = {DANA: "Dana", LI_NA: "李娜", CHEN_MING: "陳明"}
QUIET_TREATMENTS = "\n".join(
    f"[treatments.{tier}]\nsecond_visit = 'off'\nbirthday = 'off'\nnew_dish = 'off'\n"
    f"holiday = 'off'\nwinback = 'off'\n"
    for tier in ("newcomer", "occasional", "regular", "loyal")
)
POLICY_TEMPLATE = f"""
preset = "frequency"
holidays = []

[points]
expire_days = 30

[[points.multipliers]]
weekdays = ["tue"]
hours = "14:00-17:00"
factor = 2

[coupons.templates.soon]
kind = "amount"
value = 5
valid_days = 5

[coupons.templates.later]
kind = "amount"
value = 8
valid_days = 6

[coupons.templates.week]
kind = "amount"
value = 9
valid_days = 7

[reminders]
announce_multipliers = {{announce}}

{QUIET_TREATMENTS}
"""
POLICY = POLICY_TEMPLATE.replace("{announce}", "false")
ANNOUNCING = POLICY_TEMPLATE.replace("{announce}", "true")


class Days:
    """The sandbox clock in days from the first midnight after the start (store time: UTC)."""

    def __init__(self, run: SandboxRun, client: SandboxClient) -> None:
        self.run, self.client = run, client
        now = run.services.clock.now()
        self.zero = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)

    def at(self, day: int, hour: int = 0) -> datetime:
        return self.zero + timedelta(days=day, hours=hour)

    def date(self, day: int) -> date:
        return self.at(day).date()

    async def to(self, day: int, hour: int) -> dict[str, Any]:
        """Move to `day` at `hour`: the scheduler runs once and the outbox is drained."""
        moved = await self.client.advance_clock(
            (self.at(day, hour) - self.run.services.clock.now()).total_seconds()
        )
        return dict(moved["jobs"])


@pytest.fixture
async def run(
    request: pytest.FixtureRequest, sandbox_settings: Settings, tmp_path: Path
) -> AsyncIterator[SandboxRun]:
    file = tmp_path / "reminders.toml"
    file.write_text(getattr(request, "param", POLICY), encoding="utf-8")
    settings = sandbox_settings.model_copy(update={"policy_file": file})
    async with sandbox(settings, port=0) as running:
        yield running


async def pay(run: SandboxRun, telegram_id: int, amount: int, ref: str) -> int:
    services = run.services
    async with services.session_factory() as session, session.begin():
        outcome = await record_payment(
            session,
            source=PaymentSource.POS,
            external_id=ref,
            store=StoreRef(id=services.store.id, timezone=services.store.timezone),
            amount=Decimal(amount),
            currency="USD",
            payer=Payer(
                telegram_id=telegram_id, first_name=NAMES[telegram_id], channel=Channel.TABLE_QR
            ),
            policy=services.policy,
            now=services.clock.now(),
        )
    return outcome.member_id


async def consent(run: SandboxRun, member_id: int, yes: bool | None) -> None:
    async with run.services.session_factory() as session, session.begin():
        await session.execute(
            update(Member).where(col(Member.id) == member_id).values(marketing_consent=yes)
        )


async def said(client: SandboxClient, telegram_id: int, words: str) -> list[str]:
    """The bot's messages to this person that contain `words`."""
    return [
        str(m.get("text") or "")
        for m in await client.inbox(telegram_id)
        if words in str(m.get("text") or "")
    ]


async def start_days(run: SandboxRun, client: SandboxClient) -> Days:
    days = Days(run, client)
    for person in NAMES:
        await client.say(person, "/start")  # their language is known from their first message
    await days.to(0, 10)
    return days


async def test_points_expiring_once_a_week_ahead_in_each_language(
    run: SandboxRun, client: SandboxClient
) -> None:
    days = await start_days(run, client)
    li_na = await pay(run, LI_NA, 250, "li-na")
    dana = await pay(run, DANA, 120, "dana")
    chen = await pay(run, CHEN_MING, 80, "chen")
    for member in (li_na, dana, chen):
        await consent(run, member, True)
    await client.say(CHEN_MING, "/stop")  # offers off: no reminders either
    # two offers to Dana on days 20 and 21 fill her week (at most 2 marketing messages)
    async with run.services.session_factory() as session, session.begin():
        for day in (20, 21):
            await outbox.enqueue_one(
                session,
                telegram_id=DANA,
                member_id=dana,
                text=f"News of day {day}",
                dedupe=f"test-news-{day}",
                marketing=True,
                now=days.at(0, 10),
                at=days.at(day, 10),
            )

    # earned on day 0 at 10:00, with points.expire_days = 30: the refresh of day 31 expires them
    expiry_zh = format_date(days.date(31), "zh_Hans")
    expiry_en = format_date(days.date(31), "en")
    await days.to(23, 10)
    assert await said(client, LI_NA, "积分将于") == []

    jobs = await days.to(24, 5)  # due today, but the quiet hours last until 09:00
    assert jobs["reminders"]["points_expiring"]["deferred"] == 1  # Li Na's
    assert jobs["reminders"]["points_expiring"]["capped"] == 1  # Dana's: her week is full
    assert jobs["reminders"]["points_expiring"]["no_consent"] == 1  # Chen Ming's
    assert await said(client, LI_NA, "积分将于") == []

    await days.to(24, 10)
    assert await said(client, LI_NA, "积分将于") == [
        f"李娜，您在Noodle Bar的250积分将于{expiry_zh}过期。\n"
        "在那之前来用掉吧：/wallet 可查看积分能兑换什么。"
    ]
    assert await said(client, DANA, "expire") == []
    # the manager sees the month's reminders among the campaigns
    report = (await client.say(SANDBOX_OWNER_ID, "/campaigns"))["text"]
    block = next(b for b in report.split("\n\n") if "Reminder: points expire" in b)
    assert "Audience 1 (holdout 0): sent 1, delivered 1" in block

    # Dana's week frees on day 28: still three days ahead, so she is told then
    jobs = await days.to(27, 5)
    assert jobs["reminders"]["points_expiring"]["capped"] == 1  # 09:00 is within a week of both
    await days.to(27, 10)
    assert await said(client, DANA, "expire") == []
    jobs = await days.to(28, 5)
    assert jobs["reminders"]["points_expiring"]["deferred"] == 1
    await days.to(28, 10)
    assert await said(client, DANA, "expire") == [
        f"Dana, 120 of your points at Noodle Bar expire on {expiry_en}.\n"
        "Come by before then: /wallet shows what they buy."
    ]

    await days.to(31, 10)  # they expire as announced, and nobody hears twice
    await days.to(45, 10)
    async with run.services.session_factory() as session:
        expired = (
            await session.execute(
                select(col(PointsEntry.member_id), col(PointsEntry.delta), col(PointsEntry.at))
                .where(col(PointsEntry.reason) == "expired")
                .order_by(col(PointsEntry.member_id))
            )
        ).all()
    assert [(m, d, at.date()) for m, d, at in expired] == [
        (li_na, -250, days.date(31)),
        (dana, -120, days.date(31)),
        (chen, -80, days.date(31)),
    ]
    assert len(await said(client, LI_NA, "积分将于")) == 1
    assert len(await said(client, DANA, "expire")) == 1
    assert await said(client, CHEN_MING, "積分") == []


async def test_each_coupon_is_recalled_three_days_before_its_last_day_within_the_cap(
    run: SandboxRun, client: SandboxClient
) -> None:
    days = await start_days(run, client)
    dana = await pay(run, DANA, 20, "dana")
    chen = await pay(run, CHEN_MING, 20, "chen")
    await consent(run, dana, True)
    async with run.services.session_factory() as session, session.begin():
        for member, key in ((dana, "soon"), (dana, "later"), (dana, "week"), (chen, "soon")):
            await coupons.gift(
                session,
                member_id=member,
                template_key=key,
                by_telegram_id=1,
                policy=run.services.policy,
                now=run.services.clock.now(),
            )
    # "soon" lasts until the end of day 5, "later" until the end of day 6
    await days.to(1, 10)
    assert await said(client, DANA, "runs out") == []
    await days.to(2, 10)
    assert await said(client, DANA, "runs out") == [
        f"Dana, your coupon “$5.00 off” runs out on {format_date(days.date(5), 'en')}. "
        "Show it at the counter from /wallet before then."
    ]
    await days.to(3, 10)
    told = await said(client, DANA, "runs out")
    assert len(told) == 2
    assert told[1].startswith(
        f"Dana, your coupon “$8.00 off” runs out on {format_date(days.date(6), 'en')}."
    )
    # the third runs out on day 7, but two reminders this week are the most (caps)
    jobs = await days.to(4, 10)
    assert jobs["reminders"]["coupon_expiring"]["capped"] == 1
    await days.to(9, 10)
    assert len(await said(client, DANA, "runs out")) == 2
    assert await said(client, DANA, "$9.00") == []
    assert await said(client, CHEN_MING, "優惠券") == []  # no consent given: none


async def test_one_visit_from_the_next_tier_or_from_what_points_buy(
    run: SandboxRun, client: SandboxClient
) -> None:
    days = await start_days(run, client)
    dana = await pay(run, DANA, 60, "dana-0")
    li_na = await pay(run, LI_NA, 250, "li-na-0")  # 250 points: 50 short of $10 off (300)
    chen = await pay(run, CHEN_MING, 250, "chen-0")
    await consent(run, dana, True)
    await consent(run, li_na, True)
    await consent(run, chen, False)
    await days.to(1, 10)
    assert await said(client, LI_NA, "再攒") == [
        "李娜，再攒50积分就能兑换减 US$10.00，大约再光临1次。/wallet 可查看您的积分。"
    ]
    assert await said(client, CHEN_MING, "積分") == []
    assert await said(client, DANA, "more visit") == []  # 60 points: 240 short, 4 visits

    for day in (10, 20):  # Dana's second and third visits: Regular takes 4 within 90 days
        await days.to(day, 12)
        await pay(run, DANA, 60, f"dana-{day}")
        await days.to(day, 20)
        assert await said(client, DANA, "more visit") == []  # told the next morning
    await days.to(21, 10)
    by = format_date(days.date(90), "en")  # when her first visit stops counting
    assert await said(client, DANA, "more visit") == [
        f"Dana, just 1 more visit by {by} and you become Regular at Noodle Bar!"
    ]
    await days.to(30, 10)
    assert len(await said(client, DANA, "more visit")) == 1
    assert len(await said(client, LI_NA, "再攒")) == 1


async def test_a_regular_who_stops_coming_is_told_a_week_before_the_tier_goes(
    run: SandboxRun, client: SandboxClient
) -> None:
    days = await start_days(run, client)
    for day in (0, 7, 14, 21):  # four visits in 90 days: Regular
        if day:
            await days.to(day, 10)
        dana = await pay(run, DANA, 60, f"dana-{day}")
        chen = await pay(run, CHEN_MING, 60, f"chen-{day}")
    await consent(run, dana, True)
    await consent(run, chen, None)  # never answered: opt-in means no

    # day 0's visit stops counting on day 90 + the downgrade grace at 10:00; her win-back episode
    # (open since she became overdue) keeps the tier until it ends a few minutes later that day,
    # so the tier goes that day: a week before is that day - 6's morning (the run at 05:00 the
    # day before looks a week ahead, to 05:00 on the day)
    tiers = run.services.policy.tiers
    drop = tiers.window_days + tiers.downgrade_grace_days
    jobs = await days.to(drop - 7, 5)
    assert (
        jobs["reminders"]["keep_tier"]["queued"] + jobs["reminders"]["keep_tier"]["deferred"] == 0
    )
    await days.to(drop - 7, 10)
    assert await said(client, DANA, "to stay") == []
    jobs = await days.to(drop - 6, 6)
    assert jobs["reminders"]["keep_tier"]["deferred"] == 1
    assert await said(client, DANA, "to stay") == []
    await days.to(drop - 6, 10)
    assert await said(client, DANA, "to stay") == [
        f"Dana, visit Noodle Bar by {format_date(days.date(drop), 'en')} to stay Regular. "
        "/card shows where you stand."
    ]
    await days.to(drop + 1, 10)
    assert len(await said(client, DANA, "to stay Regular")) == 1
    assert await said(client, CHEN_MING, "熟客") == []
    async with run.services.session_factory() as session:
        member = await session.get(Member, dana)
        assert member is not None
        assert member.tier == "occasional"  # she did not come: the tier went as announced


async def test_the_anniversary_of_joining_is_greeted_once(
    run: SandboxRun, client: SandboxClient
) -> None:
    days = await start_days(run, client)
    li_na = await pay(run, LI_NA, 60, "li-na")
    chen = await pay(run, CHEN_MING, 60, "chen")
    await consent(run, li_na, True)
    await consent(run, chen, True)
    await client.say(CHEN_MING, "/stop")
    joined = days.date(0)
    anniversary = (days.zero.replace(year=joined.year + 1) - days.zero).days
    await days.to(anniversary - 1, 10)
    assert await said(client, LI_NA, "加入") == []
    await days.to(anniversary, 8)  # planned at 03:00, held until the quiet hours end
    assert await said(client, LI_NA, "加入") == []
    await days.to(anniversary, 10)
    assert await said(client, LI_NA, "加入") == [
        "李娜，您加入Noodle Bar已经1年了。感谢您的每一次光临，期待下次再见！"
    ]
    await days.to(anniversary + 8, 10)
    assert len(await said(client, LI_NA, "加入")) == 1
    assert await said(client, CHEN_MING, "加入") == []


@pytest.mark.parametrize("run", [ANNOUNCING], indirect=True)
async def test_double_points_show_in_card_and_wallet_and_are_announced_on_the_day(
    run: SandboxRun, client: SandboxClient
) -> None:
    days = await start_days(run, client)
    dana = await pay(run, DANA, 60, "dana")
    li_na = await pay(run, LI_NA, 60, "li-na")
    await pay(run, CHEN_MING, 60, "chen")
    await consent(run, dana, True)
    await consent(run, li_na, True)

    hours = "2:00\u202fPM–5:00\u202fPM"
    card = await client.say(DANA, "/card")
    assert f"✨ Double points on Tuesday, {hours}" in str(card.get("caption") or card["text"])
    wallet = await client.say(LI_NA, "/wallet")
    assert "✨ 每逢星期二 14:00–17:00：双倍积分" in wallet["text"]

    tuesday = next(d for d in range(1, 8) if days.date(d).weekday() == 1)
    await days.to(tuesday, 8)
    assert await said(client, DANA, "today at") == []
    await days.to(tuesday, 16)
    assert await said(client, DANA, "today at") == [
        f"Double points today at Noodle Bar, {hours}.\nSee you there!"
    ]
    assert await said(client, LI_NA, "今天") == [
        "今天14:00–17:00，Noodle Bar双倍积分。\n期待您的光临！"
    ]
    assert await said(client, CHEN_MING, "今天") == []
    await days.to(tuesday + 6, 16)
    assert len(await said(client, DANA, "today at")) == 1
    await days.to(tuesday + 7, 16)
    assert len(await said(client, DANA, "today at")) == 2  # the next Tuesday's
