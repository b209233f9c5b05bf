"""record_payment and friends on a real database (SQLite file or PostgreSQL), including the
races a busy counter produces."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from loyalty import referrals, refresh, telegram_users
from loyalty.payments import (
    Channel,
    Payer,
    PaymentOutcome,
    PaymentSource,
    ReceiptProblem,
    RefundProblem,
    Refusal,
    StoreRef,
    claim_receipt,
    issue_receipt,
    record_payment,
    refund_payment,
)
from loyalty.policy import Policy, load_preset
from models.tables import FraudEvent, Member, Payment, PointsEntry, Visit

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
DANA = Payer(telegram_id=101, first_name="Dana", channel=Channel.CHAT)


async def pay(
    factory: async_sessionmaker[AsyncSession],
    store: StoreRef,
    policy: Policy,
    *,
    key: str,
    amount: str = "86.50",
    payer: Payer = DANA,
    at: datetime = NOON,
    source: PaymentSource = PaymentSource.CHAT,
    cashier: int | None = None,
) -> PaymentOutcome:
    async with factory() as session, session.begin():
        return await record_payment(
            session,
            source=source,
            external_id=key,
            store=store,
            amount=Decimal(amount),
            currency="CNY",
            payer=payer,
            policy=policy,
            now=at,
            cashier_telegram_id=cashier,
        )


async def count(factory: async_sessionmaker[AsyncSession], table: type) -> int:
    async with factory() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def test_first_payment_enrols_with_visit_points_and_aggregates(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    first = await pay(factory, store, policy, key="ch_1")
    assert first.enrolled
    assert not first.duplicate
    assert first.refused is None
    assert (first.visit_count, first.points_awarded, first.points_balance) == (1, 86, 86)
    second = await pay(factory, store, policy, key="ch_2", amount="20", at=NOON + timedelta(days=4))
    assert not second.enrolled
    assert (second.visit_count, second.points_balance) == (2, 106)
    async with factory() as session:
        member = (await session.execute(select(Member))).scalar_one()
        assert member.total_spend == Decimal("106.50")
        assert member.gap_count == 1
        assert member.gap_mean_days == Decimal("4.000")
        assert member.last_visit_at == NOON + timedelta(days=4)
        ledger = (await session.execute(select(func.sum(PointsEntry.delta)))).scalar_one()
        assert ledger == member.points_balance  # the balance is the ledger's sum


async def test_the_same_key_credits_once_even_when_racing(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    outcomes = await asyncio.gather(
        *(pay(factory, store, policy, key="ch_same") for _ in range(10))
    )
    assert sum(not o.duplicate for o in outcomes) == 1
    assert {o.payment_id for o in outcomes} == {outcomes[0].payment_id}
    assert await count(factory, Payment) == 1
    assert await count(factory, Visit) == 1
    assert await count(factory, Member) == 1


async def test_two_payments_racing_to_enrol_one_person_make_one_member(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    async with factory() as session, session.begin():  # the person has written to the bot
        await telegram_users.touch(
            session, telegram_id=DANA.telegram_id, language_code="en", now=NOON
        )
    # Two, under the daily limit (the limit under a race has its own test below).
    outcomes = await asyncio.gather(
        *(pay(factory, store, policy, key=f"race_{n}", amount="10") for n in range(2))
    )
    assert sum(o.enrolled for o in outcomes) == 1
    assert len({o.member_id for o in outcomes}) == 1
    assert all(o.refused is None for o in outcomes)
    assert await count(factory, Member) == 1
    assert await count(factory, Payment) == 2
    assert await count(factory, Visit) == 1  # one sitting
    assert max(o.points_balance for o in outcomes) == 20


async def test_racing_payments_of_one_member_keep_the_daily_limit_and_every_credit(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    """Six payments of a known member at once (two phones, a cashier and the chat): the daily
    limit (3) holds, and the member's spend and points add up to what was credited — on
    PostgreSQL too, where each runs in its own transaction on its own connection."""
    await pay(factory, store, policy, key="known", amount="10", at=NOON - timedelta(days=2))
    outcomes = await asyncio.gather(
        *(pay(factory, store, policy, key=f"rush_{n}", amount=f"{n + 1}0") for n in range(6))
    )
    credited = [o for o in outcomes if o.refused is None]
    assert len(credited) == policy.fraud.max_credited_payments_per_day
    assert {o.refused for o in outcomes if o.refused is not None} == {Refusal.DAILY_LIMIT}
    async with factory() as session:
        member = (await session.execute(select(Member))).scalar_one()
        assert member.total_spend == Decimal("10") + sum(o.amount for o in credited)
        ledger = (await session.execute(select(func.sum(PointsEntry.delta)))).scalar_one()
        assert member.points_balance == ledger == 10 + sum(o.points_awarded for o in credited)
        assert member.visit_count == 2  # the earlier day, and one sitting now
        refusals = await session.scalar(select(func.count()).select_from(FraudEvent))
        assert refusals == len(outcomes) - len(credited)


async def test_the_referrer_remembered_for_the_person_is_credited_unasked(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    referrer = await pay(factory, store, policy, key="ref_0")
    async with factory() as session, session.begin():
        await referrals.remember_referrer(
            session, telegram_id=303, referrer_member_id=referrer.member_id, now=NOON
        )
    friend = Payer(telegram_id=303, first_name="Fay", channel=Channel.CHAT)  # no referrer named
    first = await pay(factory, store, policy, key="fay_1", payer=friend, amount="50")
    assert first.enrolled
    assert first.referrer_member_id == referrer.member_id
    assert first.referral_points == policy.points.referral_bonus
    later = await pay(
        factory, store, policy, key="fay_2", payer=friend, amount="5", at=NOON + timedelta(days=1)
    )
    assert later.referral_points == 0  # only the payment that enrols credits the referrer


async def test_friends_enrolling_at_once_each_credit_their_referrer(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    referrer = await pay(factory, store, policy, key="host", amount="20")
    friends = [
        Payer(
            telegram_id=400 + n,
            first_name=f"F{n}",
            channel=Channel.CHAT,
            referrer_member_id=referrer.member_id,
        )
        for n in range(5)
    ]
    firsts = await asyncio.gather(
        *(pay(factory, store, policy, key=f"friend_{f.telegram_id}", payer=f) for f in friends)
    )
    assert all(o.enrolled and o.referrer_member_id == referrer.member_id for o in firsts)
    async with factory() as session:
        host = await session.get(Member, referrer.member_id)
        assert host is not None
        bonus = policy.points.referral_bonus
        assert host.points_balance == referrer.points_balance + len(friends) * bonus


async def test_visits_count_once_per_sitting(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    await pay(factory, store, policy, key="a")
    soon = await pay(factory, store, policy, key="b", amount="10", at=NOON + timedelta(minutes=10))
    assert not soon.visit_counted
    assert soon.points_awarded == 10  # the money still earns points
    assert soon.visit_count == 1


async def test_daily_limit_refuses_the_credit_and_tells_managers(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    limit = policy.fraud.max_credited_payments_per_day
    for i in range(limit):
        await pay(factory, store, policy, key=f"p{i}", amount="10", at=NOON + timedelta(hours=i))
    over = await pay(
        factory, store, policy, key="over", amount="10", at=NOON + timedelta(hours=limit)
    )
    assert over.refused is Refusal.DAILY_LIMIT
    assert over.points_awarded == 0
    assert over.points_balance == 10 * limit
    async with factory() as session:
        event = (await session.execute(select(FraudEvent))).scalar_one()
        assert event.kind == "daily_limit"
        refused = (
            await session.execute(select(Payment).where(col(Payment.external_id) == "over"))
        ).scalar_one()
        assert refused.status == "refused"  # the money is recorded, the credit is not
    # the store's next local day (midnight in Shanghai) opens the limit again
    next_day = datetime(2026, 11, 23, 16, 30, tzinfo=UTC)  # 00:30 on the 24th in Shanghai
    fresh = await pay(factory, store, policy, key="tomorrow", amount="10", at=next_day)
    assert fresh.refused is None


async def test_cashier_cannot_credit_themselves(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    cashier = Payer(telegram_id=555, first_name="Carlos", channel=Channel.CHAT)
    await pay(factory, store, policy, key="own_1", payer=cashier)
    outcome = await pay(
        factory,
        store,
        policy,
        key="own_2",
        payer=cashier,
        source=PaymentSource.CASHIER,
        cashier=555,
        at=NOON + timedelta(days=1),
    )
    assert outcome.refused is Refusal.SELF_CREDIT
    assert outcome.visit_count == 1


async def test_receipt_claimed_by_exactly_one_of_twenty(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    async with factory() as session, session.begin():
        receipt = await issue_receipt(
            session,
            source=PaymentSource.POS,
            external_id="pos-77",
            store=store,
            amount=Decimal("30"),
            currency="CNY",
            policy=policy,
            now=NOON,
        )

    async def scan(i: int) -> str:
        payer = Payer(telegram_id=1000 + i, first_name=f"G{i}", channel=Channel.RECEIPT_CLAIM)
        try:
            async with factory() as session, session.begin():
                await claim_receipt(
                    session,
                    payment_id=receipt.payment_id,
                    store=store,
                    payer=payer,
                    policy=policy,
                    now=NOON + timedelta(minutes=1),
                )
        except ReceiptProblem as problem:
            return problem.reason
        return "won"

    results = await asyncio.gather(*(scan(i) for i in range(20)))
    assert results.count("won") == 1
    assert results.count("used") == 19
    assert await count(factory, Member) == 1
    assert await count(factory, Visit) == 1


async def test_receipt_expires(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    async with factory() as session, session.begin():
        receipt = await issue_receipt(
            session,
            source=PaymentSource.RECEIPT,
            external_id="r1",
            store=store,
            amount=Decimal("30"),
            currency="CNY",
            policy=policy,
            now=NOON,
        )
    late = receipt.expires_at + timedelta(seconds=1)
    with pytest.raises(ReceiptProblem, match="expired"):
        async with factory() as session, session.begin():
            await claim_receipt(
                session,
                payment_id=receipt.payment_id,
                store=store,
                payer=DANA,
                policy=policy,
                now=late,
            )
    assert await count(factory, Member) == 0


async def test_referral_credit_and_refund_reverse_once(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    referrer = await pay(factory, store, policy, key="ref_0")
    friend = Payer(telegram_id=202, first_name="Eve", channel=Channel.CHAT)
    async with factory() as session, session.begin():
        note = await referrals.remember_referrer(
            session, telegram_id=202, referrer_member_id=referrer.member_id, now=NOON
        )
        assert note is not None
        assert not note.own_link
        referrer_id = await referrals.referrer_of(session, telegram_id=202)
    friend = Payer(
        telegram_id=202, first_name="Eve", channel=Channel.CHAT, referrer_member_id=referrer_id
    )
    first = await pay(factory, store, policy, key="eve_1", payer=friend, amount="50")
    assert first.referral_points == policy.points.referral_bonus
    async with factory() as session:
        dana = await session.get(Member, referrer.member_id)
        assert dana is not None
        assert dana.points_balance == 86 + policy.points.referral_bonus
        eve = await session.get(Member, first.member_id)
        assert eve is not None
        assert eve.acquisition_channel == "referral"

    async with factory() as session, session.begin():
        refund = await refund_payment(
            session, payment_id=first.payment_id, by_telegram_id=1, policy=policy, now=NOON
        )
    assert refund.visit_voided
    assert refund.points_reversed == 50
    async with factory() as session:
        dana = await session.get(Member, referrer.member_id)
        eve = await session.get(Member, first.member_id)
        assert dana is not None
        assert eve is not None
        assert dana.points_balance == 86
        assert (eve.points_balance, eve.visit_count, eve.total_spend) == (0, 0, Decimal(0))
    with pytest.raises(RefundProblem, match="already"):
        async with factory() as session, session.begin():
            await refund_payment(
                session, payment_id=first.payment_id, by_telegram_id=1, policy=policy, now=NOON
            )


async def test_a_refund_racing_a_new_payment_leaves_only_the_new_one(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    first = await pay(factory, store, policy, key="to_refund", amount="40")

    async def refund() -> None:
        async with factory() as session, session.begin():
            await refund_payment(
                session, payment_id=first.payment_id, by_telegram_id=1, policy=policy, now=NOON
            )

    later = NOON + timedelta(days=3)
    new, _ = await asyncio.gather(
        pay(factory, store, policy, key="kept", amount="25", at=later), refund()
    )
    async with factory() as session:
        member = await session.get(Member, first.member_id)
        assert member is not None
        assert member.total_spend == Decimal("25")
        assert member.points_balance == new.points_awarded == 25


async def test_a_sittings_second_bill_counts_toward_spend_tiers(
    factory: async_sessionmaker[AsyncSession], store: StoreRef
) -> None:
    """Value preset, tier B: 3 visits and 600 of spend in 90 days. Three sittings of 150 each,
    each with a second bill of 60 ten minutes later (not a visit of its own): 630 in all, so
    the third sitting's second bill makes the member B, and the nightly refresh agrees."""
    value = load_preset("value")
    enrolled = NOON - timedelta(days=70)  # graded after 60 days (until then "potential")
    for day in (0, 35, 70):
        at = enrolled + timedelta(days=day)
        await pay(factory, store, value, key=f"meal-{day}", amount="150", at=at)
        drinks = at + timedelta(minutes=10)
        outcome = await pay(factory, store, value, key=f"drinks-{day}", amount="60", at=drinks)
        assert not outcome.visit_counted
    assert outcome.tier_up == "B"
    assert outcome.visit_count == 3
    later = NOON + timedelta(hours=1)
    result = await refresh.nightly_refresh(factory, policy=value, now=later, batch_size=100)
    assert (result.upgrades, result.downgrades) == (0, 0)
    async with factory() as session:
        member = (await session.execute(select(Member))).scalar_one()
        assert member.tier == "B"
        assert member.total_spend == Decimal("630")
