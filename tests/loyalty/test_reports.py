"""The managers' reports on a real database: the store's figures and the campaigns' results equal
what a person counts by hand on a small seeded history (payments through the real
record_payment, a refund, an erased member, coupons issued and redeemed at the counter)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from loyalty import coupons, member_account, outbox, reports
from loyalty.channels import Channel
from loyalty.outbox import FAILED, Recipient
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment, refund_payment
from loyalty.policy import Policy
from models.tables import Campaign, Member, OutboxMessage

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday, 12:00 in Shanghai
DAY = timedelta(days=1)
CASHIER = 900
D = Decimal


class World:
    def __init__(
        self, factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
    ) -> None:
        self.factory, self.store, self.policy = factory, store, policy
        self.refs = 0

    async def pay(self, who: int, amount: str, at: datetime) -> tuple[int, int]:
        """(member id, payment id)."""
        self.refs += 1
        async with self.factory() as session, session.begin():
            outcome = await record_payment(
                session,
                source=PaymentSource.POS,
                external_id=f"r{self.refs}",
                store=self.store,
                amount=D(amount),
                currency="CNY",
                payer=Payer(telegram_id=who, first_name=f"p{who}", channel=Channel.CHAT),
                policy=self.policy,
                now=at,
            )
        return outcome.member_id, outcome.payment_id

    async def refund(self, payment_id: int, at: datetime) -> None:
        async with self.factory() as session, session.begin():
            await refund_payment(
                session, payment_id=payment_id, by_telegram_id=1, policy=self.policy, now=at
            )

    async def gift(
        self, member_id: int, template: str, at: datetime, campaign: str = "gift"
    ) -> int:
        async with self.factory() as session, session.begin():
            view = await coupons.issue(
                session,
                member_id=member_id,
                template_key=template,
                policy=self.policy,
                now=at,
                campaign=campaign,
            )
        return view.id

    async def redeem(self, coupon_id: int, who: int, bill: str, at: datetime) -> None:
        """The member shows the coupon, the cashier types the code and confirms the bill."""
        async with self.factory() as session, session.begin():
            ticket = await coupons.request_redemption(
                session, coupon_id=coupon_id, telegram_id=who, policy=self.policy, now=at
            )
            seen = await coupons.find_by_code(
                session,
                short_code=ticket.short_code,
                cashier_telegram_id=CASHIER,
                policy=self.policy,
                now=at,
            )
            assert seen is not None
            await coupons.redeem_at_counter(
                session,
                redemption_id=seen.redemption_id,
                cashier_telegram_id=CASHIER,
                bill_amount=D(bill),
                store=self.store,
                policy=self.policy,
                now=at,
            )


@pytest.fixture
def world(factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy) -> World:
    return World(factory, store, policy)


async def test_store_figures_equal_the_hand_count(world: World) -> None:
    # A: four visits (the last one by redeeming a ¥10 coupon on a ¥90 bill: ¥80 paid)
    a, _ = await world.pay(101, "100", NOON - 30 * DAY)
    await world.pay(101, "50", NOON - 20 * DAY)
    await world.pay(101, "60", NOON - 2 * DAY)
    coupon = await world.gift(a, "ten_off", NOON - DAY)
    await world.redeem(coupon, 101, "90", NOON - timedelta(hours=1))
    # B: joined 3 days ago; a second visit was refunded: one visit, ¥80
    await world.pay(102, "80", NOON - 3 * DAY)
    _, refunded = await world.pay(102, "40", NOON - DAY)
    await world.refund(refunded, NOON - timedelta(hours=2))
    # C: two visits, and a coupon not used yet
    c, _ = await world.pay(103, "70", NOON - 10 * DAY)
    await world.pay(103, "30", NOON - 5 * DAY)
    await world.gift(c, "twenty_off_100", NOON - DAY)
    # D: joined yesterday with a big bill and a coupon, then asked to be forgotten
    d, _ = await world.pay(104, "200", NOON - DAY)
    await world.gift(d, "ten_off", NOON - DAY)
    async with world.factory() as session, session.begin():
        await member_account.erase(session, telegram_id=104, now=NOON - timedelta(hours=3))
    # one visit each: E 6 days ago (new this week), H 40, F 80, G 200 days ago. With no cohort
    # data yet a newcomer is expected back after 30 days: slowing from 37.5 days, lapsed from 45,
    # lost from 120.
    await world.pay(105, "45", NOON - 6 * DAY)
    await world.pay(108, "55", NOON - 40 * DAY)
    await world.pay(106, "25", NOON - 80 * DAY)
    await world.pay(107, "35", NOON - 200 * DAY)

    async with world.factory() as session:
        stats = await reports.store_stats(
            session, store_id=world.store.id, currency="CNY", policy=world.policy, now=NOON
        )
    assert stats.members == 7  # A B C E F G H: D was erased
    assert stats.new_this_week == 2  # B and E (D joined yesterday but is erased)
    assert stats.returning == 2  # A and C; B's second visit was refunded
    assert stats.returning_rate == D("28.6")  # 2 / 7
    assert stats.visits == 11  # A 4, C 2, B E F G H 1
    assert stats.visits_per_member == D("1.6")  # 11 / 7 = 1.571…
    # credited payments of members: A 100 50 60 80, B 80, C 70 30, E 45, H 55, F 25, G 35
    assert stats.payments == 11
    assert stats.revenue == D(630)
    assert stats.average_ticket == D("57.27")  # 630 / 11 = 57.2727…
    # coupons of members: A's (redeemed) and C's (not yet); D's went with D
    assert (stats.coupons_issued, stats.coupons_redeemed) == (2, 1)
    assert stats.redemption_rate == D("50.0")
    # frequency ladder: 4 visits in 90 days → regular, 2 → occasional, 1 → newcomer
    assert [(b.key, b.count) for b in stats.tiers] == [
        ("newcomer", 5),
        ("occasional", 1),
        ("regular", 1),
        ("loyal", 0),
    ]
    assert [(b.key, b.count) for b in stats.stages] == [
        ("newcomer", 2),  # B, E
        ("returning", 1),  # C (two visits)
        ("active", 1),  # A (three or more)
        ("slowing", 1),  # H, 40 days
        ("lapsed", 1),  # F, 80 days
        ("lost", 1),  # G, 200 days
    ]


async def test_an_empty_store_has_no_rates(world: World) -> None:
    async with world.factory() as session:
        stats = await reports.store_stats(
            session, store_id=world.store.id, currency="CNY", policy=world.policy, now=NOON
        )
    assert (stats.members, stats.payments, stats.coupons_issued) == (0, 0, 0)
    assert stats.returning_rate is None
    assert stats.average_ticket is None
    assert stats.visits_per_member is None
    assert stats.redemption_rate is None
    assert sum(b.count for b in stats.tiers) == sum(b.count for b in stats.stages) == 0


async def _consenting_members(world: World, count: int, at: datetime) -> list[int]:
    ids = []
    for i in range(count):
        member_id, _ = await world.pay(200 + i, "30", at)
        ids.append(member_id)
    async with world.factory() as session, session.begin():
        await session.execute(
            update(Member).where(col(Member.id).in_(ids)).values(marketing_consent=True)
        )
    return ids


async def test_a_campaigns_counts_coupons_and_lift(world: World) -> None:
    joined = NOON - 60 * DAY
    sent_at = NOON - 30 * DAY  # 12:00 in Shanghai: not in the quiet hours
    ids = await _consenting_members(world, 12, joined)
    period = (sent_at.date()).isoformat()
    key = f"winback_1:{period}"

    async def render(person: Recipient, holdout: bool) -> tuple[str, int | None]:
        # the coupon is issued in the planning transaction (`session` below), as the jobs do
        if holdout:  # the control group gets no coupon
            return "care", None
        view = await coupons.issue(
            session,
            member_id=person.member_id,
            template_key="ten_off",
            policy=world.policy,
            now=sent_at,
            campaign=key,
        )
        return "care + coupon", view.id

    async with world.factory() as session, session.begin():
        campaign = await outbox.ensure_campaign(
            session, kind="winback_1", period=period, holdout_share=0.5, now=sent_at
        )
        audience = await outbox.recipients(session, member_ids=ids)
        planned = await outbox.plan(
            session,
            campaign=campaign,
            audience=audience,
            render=render,
            policy=world.policy,
            now=sent_at,
        )
        campaign_id = campaign.id
    assert planned.queued + planned.holdout == 12
    # delivery: all but the last queued message are claimed; the first claimed one fails
    async with world.factory() as session, session.begin():
        claimed = await outbox.claim(session, now=sent_at, limit=planned.queued - 1)
        await outbox.mark_final(session, row=claimed[0], status=FAILED, error="400", now=sent_at)
        await outbox.mark_sent(
            session,
            sent=[(row.id, 1000 + row.id) for row in claimed[1:]],
            now=sent_at + timedelta(minutes=1),
        )
    async with world.factory() as session:
        rows = (
            (await session.execute(select(OutboxMessage).order_by(col(OutboxMessage.id))))
            .scalars()
            .all()
        )
        coupon_of = {row.member_id: row.coupon_id for row in rows}
    telegram_of = {member_id: 200 + i for i, member_id in enumerate(ids)}
    messaged = [r.member_id for r in rows if r.status == "sent" and r.member_id is not None]
    holdout = [r.member_id for r in rows if r.status == "holdout" and r.member_id is not None]
    assert len(messaged) >= 3, "the split of this seed"
    assert len(holdout) >= 2, "the split of this seed"
    assert len(messaged) + len(holdout) == 10  # 12 less the failed and the waiting one

    # within 14 days: two messaged members (one by redeeming the campaign's coupon on a ¥90
    # bill), one holdout member; a messaged member after 20 days does not count, nor a holdout
    # member's visit that was refunded
    first, second, late = messaged[:3]
    assert coupon_of[first] is not None
    await world.redeem(coupon_of[first], telegram_of[first], "90", sent_at + 3 * DAY)  # type: ignore[arg-type]
    await world.pay(telegram_of[second], "50", sent_at + 13 * DAY)
    await world.pay(telegram_of[late], "50", sent_at + 20 * DAY)
    await world.pay(telegram_of[holdout[0]], "50", sent_at + 5 * DAY)
    _, refunded = await world.pay(telegram_of[holdout[1]], "50", sent_at + 6 * DAY)
    await world.refund(refunded, sent_at + 7 * DAY)

    async with world.factory() as session:
        page = await reports.recent_campaigns(session, now=NOON)
    assert not page.more
    [result] = page.results
    assert result.id == campaign_id
    assert (result.kind, result.period) == ("winback_1", period)
    assert result.audience == 12
    assert (result.sent, result.waiting, result.failed) == (len(messaged), 1, 1)
    assert result.holdout == len(holdout)
    # a coupon for every member outside the holdout (sent, waiting and failed alike)
    assert (result.coupons_issued, result.coupons_redeemed) == (12 - len(holdout), 1)
    assert result.revenue == D(90)  # the bill the coupon was redeemed on
    lift = result.lift
    assert (lift.messaged, lift.messaged_returned) == (len(messaged), 2)
    assert (lift.holdout, lift.holdout_returned) == (len(holdout), 1)
    messaged_rate = round(D(200) / len(messaged), 1)  # 2 of them, in percent
    holdout_rate = round(D(100) / len(holdout), 1)  # 1 of them
    assert (lift.messaged_rate, lift.holdout_rate) == (messaged_rate, holdout_rate)
    assert lift.points == messaged_rate - holdout_rate
    assert lift.measuring_until is None  # 30 days ago: every window has closed
    async with world.factory() as session:
        recent = await reports.recent_campaigns(session, now=sent_at + 2 * DAY)
    assert recent.results[0].lift.measuring_until == sent_at + timedelta(minutes=1) + 14 * DAY


async def test_no_holdout_no_lift_and_pages_of_ten(world: World) -> None:
    ids = await _consenting_members(world, 3, NOON - 10 * DAY)

    async def render(person: Recipient, holdout: bool) -> tuple[str, int | None]:
        return "hello", None

    async with world.factory() as session, session.begin():
        campaign = await outbox.ensure_campaign(
            session, kind="broadcast", period="b1", holdout_share=0.0, now=NOON - 5 * DAY
        )
        await outbox.plan(
            session,
            campaign=campaign,
            audience=await outbox.recipients(session, member_ids=ids),
            render=render,
            policy=world.policy,
            now=NOON - 5 * DAY,
        )
        for i in range(11):  # older campaigns with nobody in them
            session.add(
                Campaign(kind="broadcast", period=f"old{i}", created_at=NOON - (20 + i) * DAY)
            )
        session.add(
            Campaign(
                kind="broadcast",
                period="later",
                name="Hotpot night",
                status="scheduled",
                created_at=NOON - DAY,
                scheduled_at=NOON + 2 * DAY,
            )
        )
    async with world.factory() as session:
        first = await reports.recent_campaigns(session, now=NOON)
        second = await reports.recent_campaigns(session, now=NOON, offset=10)
    assert first.more
    assert not second.more
    assert len(first.results) == 10
    assert len(second.results) == 3
    scheduled, sent = first.results[:2]
    assert (scheduled.name, scheduled.status, scheduled.scheduled_at) == (
        "Hotpot night",
        "scheduled",
        NOON + 2 * DAY,
    )
    assert scheduled.audience == 0
    assert (sent.audience, sent.waiting, sent.holdout) == (3, 3, 0)
    assert sent.lift.holdout == 0
    assert sent.lift.points is None
    assert [r.period for r in second.results] == ["old8", "old9", "old10"]
