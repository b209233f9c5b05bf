"""Coupons and points on a real database (SQLite file or PostgreSQL): redemption exactly once,
each refusal with nothing written, and a points ledger that stays consistent."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from loyalty import coupons, points
from loyalty.channels import Channel
from loyalty.coupons import CouponProblem
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment, refund_payment
from loyalty.policy import Policy, load_policy
from loyalty.stores import ensure_default_store
from models.db import create_engine, create_session_factory
from models.migrate import upgrade
from models.tables import (
    AuditLog,
    CodeAttempt,
    Coupon,
    CouponRedemption,
    Member,
    Payment,
    PointsEntry,
    TelegramUser,
)

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday, 12:00 in Shanghai
DANA, ELI, CARLOS = 101, 102, 900
D = Decimal


async def pay(
    factory: async_sessionmaker[AsyncSession],
    store: StoreRef,
    policy: Policy,
    *,
    who: int,
    amount: D,
    at: datetime,
    ref: str,
) -> int:
    async with factory() as session, session.begin():
        outcome = await record_payment(
            session,
            source=PaymentSource.POS,
            external_id=ref,
            store=store,
            amount=amount,
            currency="CNY",
            payer=Payer(telegram_id=who, first_name=f"p{who}", channel=Channel.CHAT),
            policy=policy,
            now=at,
        )
    return outcome.member_id


async def gift(
    factory: async_sessionmaker[AsyncSession],
    policy: Policy,
    *,
    member_id: int,
    template: str,
    at: datetime = NOON,
) -> coupons.CouponView:
    async with factory() as session, session.begin():
        return await coupons.gift(
            session,
            member_id=member_id,
            template_key=template,
            by_telegram_id=1,
            policy=policy,
            now=at,
        )


async def ticket(
    factory: async_sessionmaker[AsyncSession],
    policy: Policy,
    *,
    coupon_id: int,
    who: int = DANA,
    at: datetime = NOON,
) -> coupons.RedemptionTicket:
    async with factory() as session, session.begin():
        return await coupons.request_redemption(
            session, coupon_id=coupon_id, telegram_id=who, policy=policy, now=at
        )


async def snapshot(factory: async_sessionmaker[AsyncSession]) -> tuple[int, ...]:
    """Counts of everything a redemption writes."""
    async with factory() as session:
        counts = []
        for table in (Payment, PointsEntry, AuditLog, CouponRedemption):
            counts.append(int(await session.scalar(select(func.count()).select_from(table)) or 0))
        redeemed = await session.scalar(
            select(func.count()).select_from(Coupon).where(col(Coupon.status) != "active")
        )
        counts.append(int(redeemed or 0))
        return tuple(counts)


# -- issuing -----------------------------------------------------------------------------------


async def test_a_gift_is_valid_to_the_end_of_the_local_day_and_audited(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    dana = await pay(factory, store, policy, who=DANA, amount=D(50), at=NOON, ref="p1")
    view = await gift(factory, policy, member_id=dana, template="twenty_off_100")
    # 14 days after Monday 23 Nov (Shanghai): the end of 7 Dec, Shanghai time
    assert view.valid_until == datetime(2026, 12, 7, 15, 59, 59, 999999, tzinfo=UTC)
    assert (view.kind, view.value, view.min_spend, view.campaign) == (
        "amount",
        D(20),
        D(100),
        "gift",
    )
    assert len(view.code) == 12
    async with factory() as session:
        audit = (await session.execute(select(AuditLog))).scalars().all()
        assert [a.action for a in audit] == ["coupon.gift"]
    with pytest.raises(CouponProblem) as unknown:
        await gift(factory, policy, member_id=dana, template="nope")
    assert unknown.value.reason == "unknown_template"


def test_discounts_by_kind(policy: Policy) -> None:
    templates = policy.coupons.templates
    assert templates["twenty_off_100"].discount(D("120.00"), places=2) == D(20)
    # 10 % of 86.55 is 8.655: rounded down to the fen; the cap (50) holds on a large bill
    assert templates["ten_percent"].discount(D("86.55"), places=2) == D("8.65")
    assert templates["ten_percent"].discount(D(900), places=2) == D(50)
    # a free dish never takes off more than the bill
    assert templates["free_dessert"].discount(D(20), places=2) == D(20)


# -- at the counter ----------------------------------------------------------------------------


async def test_redeemed_at_the_counter_once_with_the_payment(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    dana = await pay(factory, store, policy, who=DANA, amount=D(50), at=NOON, ref="p1")
    view = await gift(factory, policy, member_id=dana, template="twenty_off_100")
    later = NOON + timedelta(days=2)
    got = await ticket(factory, policy, coupon_id=view.id, at=later)
    assert got.expires_at == later + timedelta(minutes=10)
    async with factory() as session, session.begin():
        seen = await coupons.find_by_code(
            session, short_code=got.short_code, cashier_telegram_id=CARLOS, policy=policy, now=later
        )
        assert seen is not None
        assert (seen.member_name, seen.coupon.id) == ("p101", view.id)
        done = await coupons.redeem_at_counter(
            session,
            redemption_id=seen.redemption_id,
            cashier_telegram_id=CARLOS,
            bill_amount=D("126.50"),
            store=store,
            policy=policy,
            now=later,
        )
    assert (done.discount, done.paid) == (D(20), D("106.50"))
    assert done.payment.amount == D("106.50")
    assert done.payment.points_awarded == 106  # points on what was paid
    assert done.payment.coupon_discount == D(20)
    assert done.member_telegram_id == DANA
    async with factory() as session:
        coupon = await session.get(Coupon, view.id)
        assert coupon is not None
        assert (coupon.status, coupon.bill_amount, coupon.discount, coupon.redeemed_by) == (
            "redeemed",
            D("126.50"),
            D(20),
            CARLOS,
        )
        assert coupon.payment_id == done.payment.payment_id
        actions = (await session.execute(select(col(AuditLog.action)))).scalars().all()
        assert sorted(actions) == ["coupon.gift", "coupon.redeem"]
        report = await coupons.redemption_report(session)
        assert [
            (r.campaign, r.template, r.issued, r.redeemed, r.bills, r.discounts) for r in report
        ] == [("gift", "twenty_off_100", 1, 1, D("126.50"), D(20))]


async def test_fifty_concurrent_confirmations_redeem_exactly_once(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    dana = await pay(factory, store, policy, who=DANA, amount=D(50), at=NOON, ref="p1")
    view = await gift(factory, policy, member_id=dana, template="ten_off")
    got = await ticket(factory, policy, coupon_id=view.id)
    before = await snapshot(factory)

    async def confirm(cashier: int) -> str:
        try:
            async with factory() as session, session.begin():
                await coupons.redeem_at_counter(
                    session,
                    redemption_id=got.redemption_id,
                    cashier_telegram_id=cashier,
                    bill_amount=D(80),
                    store=store,
                    policy=policy,
                    now=NOON + timedelta(minutes=1),
                )
        except CouponProblem as problem:
            return problem.reason
        return "redeemed"

    results = await asyncio.gather(*(confirm(CARLOS + i) for i in range(50)))
    assert results.count("redeemed") == 1
    assert set(results) == {"redeemed", "used"}
    after = await snapshot(factory)
    # exactly one payment, its points entry, one audit line, one coupon redeemed
    assert after == (before[0] + 1, before[1] + 1, before[2] + 1, before[3], before[4] + 1)


async def test_each_refusal_says_why_and_writes_nothing(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    dana = await pay(factory, store, policy, who=DANA, amount=D(50), at=NOON, ref="p1")
    await pay(factory, store, policy, who=ELI, amount=D(50), at=NOON, ref="p2")
    await pay(factory, store, policy, who=CARLOS, amount=D(50), at=NOON, ref="p3")
    big = await gift(factory, policy, member_id=dana, template="twenty_off_100")
    small = await gift(factory, policy, member_id=dana, template="ten_off")
    carlos_member = await pay(factory, store, policy, who=CARLOS, amount=D(1), at=NOON, ref="p4")
    carlos_own = await gift(factory, policy, member_id=carlos_member, template="ten_off")
    big_ticket = await ticket(factory, policy, coupon_id=big.id)
    own_ticket = await ticket(factory, policy, coupon_id=carlos_own.id, who=CARLOS)

    async def refused(at: datetime, attempt: object) -> str:
        before = await snapshot(factory)
        with pytest.raises(CouponProblem) as caught:
            async with factory() as session, session.begin():
                await attempt(session, at)  # type: ignore[operator]
        assert await snapshot(factory) == before
        return caught.value.reason

    def redeem(redemption_id: int, bill: D, cashier: int = CARLOS) -> object:
        async def run(session: AsyncSession, at: datetime) -> None:
            await coupons.redeem_at_counter(
                session,
                redemption_id=redemption_id,
                cashier_telegram_id=cashier,
                bill_amount=bill,
                store=store,
                policy=policy,
                now=at,
            )

        return run

    def use(coupon_id: int, who: int) -> object:
        async def run(session: AsyncSession, at: datetime) -> None:
            await coupons.request_redemption(
                session, coupon_id=coupon_id, telegram_id=who, policy=policy, now=at
            )

        return run

    soon = NOON + timedelta(minutes=2)
    assert await refused(soon, redeem(big_ticket.redemption_id, D("99.99"))) == "below_min"
    assert await refused(soon, use(small.id, ELI)) == "not_yours"
    assert await refused(soon, redeem(own_ticket.redemption_id, D(50))) == "own_coupon"
    assert await refused(
        soon + timedelta(minutes=10), redeem(big_ticket.redemption_id, D(150))
    ) == ("code_expired")
    expired = big.valid_until + timedelta(seconds=1)
    assert await refused(expired, use(big.id, DANA)) == "expired"
    # used: redeem the small one, then try again with a fresh ticket and with the old one
    small_ticket = await ticket(factory, policy, coupon_id=small.id)
    async with factory() as session, session.begin():
        await redeem(small_ticket.redemption_id, D(30))(session, soon)  # type: ignore[operator]
    assert await refused(soon, use(small.id, DANA)) == "used"
    assert await refused(soon, redeem(small_ticket.redemption_id, D(30), ELI)) == "used"
    # one coupon per bill: a second coupon on the same visit is refused
    other = await gift(factory, policy, member_id=dana, template="ten_percent")
    other_ticket = await ticket(factory, policy, coupon_id=other.id, at=soon)
    assert await refused(soon, redeem(other_ticket.redemption_id, D(30))) == "one_per_bill"


async def test_wrong_codes_are_limited_per_cashier(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    dana = await pay(factory, store, policy, who=DANA, amount=D(50), at=NOON, ref="p1")
    view = await gift(factory, policy, member_id=dana, template="ten_off")
    right = await ticket(factory, policy, coupon_id=view.id)
    wrong = "000000" if right.short_code != "000000" else "111111"

    async def typed(code: str, cashier: int, at: datetime) -> str:
        try:
            async with factory() as session, session.begin():
                seen = await coupons.find_by_code(
                    session, short_code=code, cashier_telegram_id=cashier, policy=policy, now=at
                )
        except CouponProblem as problem:
            return problem.reason
        return "found" if seen is not None else "wrong_code"

    for i in range(policy.coupons.wrong_code_limit):
        assert await typed(wrong, CARLOS, NOON + timedelta(seconds=i)) == "wrong_code"
    at = NOON + timedelta(minutes=1)
    assert await typed(right.short_code, CARLOS, at) == "too_many_codes"
    assert await typed(right.short_code, ELI, at) == "found"  # another cashier is not paused
    async with factory() as session:
        attempts = await session.scalar(select(func.count()).select_from(CodeAttempt))
        assert attempts == policy.coupons.wrong_code_limit  # the limit refused without counting
    window = timedelta(minutes=policy.coupons.wrong_code_window_minutes)
    later = NOON + window + timedelta(seconds=policy.coupons.wrong_code_limit)
    fresh = await ticket(factory, policy, coupon_id=view.id, at=later)  # the first one expired
    assert await typed(fresh.short_code, CARLOS, later) == "found"


# -- points ------------------------------------------------------------------------------------


async def test_multipliers_exchange_and_the_balance_never_below_zero(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, tmp_path: Path
) -> None:
    file = tmp_path / "double.toml"
    file.write_text(
        'preset = "frequency"\n[[points.multipliers]]\nweekdays = ["tue"]\n'
        'hours = "14:00-17:00"\nfactor = 2\n'
    )
    policy = load_policy(file)
    tuesday_3pm = datetime(2026, 11, 24, 7, 0, tzinfo=UTC)  # 15:00 in Shanghai
    dana = await pay(factory, store, policy, who=DANA, amount=D(100), at=tuesday_3pm, ref="t")
    await pay(
        factory,
        store,
        policy,
        who=DANA,
        amount=D(100),
        at=tuesday_3pm + timedelta(hours=3),
        ref="t2",
    )
    async with factory() as session:
        member = await session.get(Member, dana)
        assert member is not None
        assert member.points_balance == 300  # 200 doubled at 15:00, 100 at 18:00

    async def exchange() -> str:
        try:
            async with factory() as session, session.begin():
                await coupons.exchange_points(
                    session, member_id=dana, template_key="ten_off", policy=policy, now=NOON
                )
        except CouponProblem as problem:
            return problem.reason
        return "ok"

    # 300 points buy exactly one 300-point coupon, however many taps arrive at once
    results = await asyncio.gather(*(exchange() for _ in range(10)))
    assert sorted(results) == ["no_points"] * 9 + ["ok"]
    async with factory() as session:
        member = await session.get(Member, dana)
        assert member is not None
        assert member.points_balance == 0 == await points.ledger_balance(session, member_id=dana)
        held = await coupons.usable_coupons(session, member_id=dana, now=NOON)
        assert [(c.template, c.campaign) for c in held] == [("ten_off", "points")]
        first_payment = await session.scalar(
            select(col(Payment.id)).where(col(Payment.external_id) == "t")
        )
    # refunding the doubled payment cannot take back points already spent
    async with factory() as session, session.begin():
        refund = await refund_payment(
            session, payment_id=int(first_payment or 0), by_telegram_id=1, policy=policy, now=NOON
        )
    assert refund.points_reversed == 0
    async with factory() as session:
        assert await points.ledger_balance(session, member_id=dana) == 0


_people = itertools.count(10_000)
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("pay"), st.integers(min_value=10, max_value=400)),
        st.tuples(st.just("exchange"), st.just(0)),
        st.tuples(st.just("refund"), st.integers(min_value=0, max_value=30)),
        st.tuples(st.just("days"), st.integers(min_value=1, max_value=120)),
        st.tuples(st.just("expire"), st.just(0)),
    ),
    max_size=20,
)


async def _scenario(url: str, ops: list[tuple[str, int]]) -> None:
    policy = load_policy(_EXPIRING)
    engine = create_engine(url)
    factory = create_session_factory(engine)
    who = next(_people)
    try:
        async with factory() as session, session.begin():
            info = await ensure_default_store(
                session, name="Noodle Bar", timezone="Asia/Shanghai", currency="CNY", now=NOON
            )
        store = StoreRef(id=info.id, timezone=info.timezone)
        now = NOON
        member_id = await pay(factory, store, policy, who=who, amount=D(50), at=now, ref=f"{who}-0")
        paid = [f"{who}-0"]
        for i, (op, n) in enumerate(ops):
            now += timedelta(hours=1)
            async with factory() as session, session.begin():
                if op == "pay":
                    ref = f"{who}-{i + 1}"
                    await record_payment(
                        session,
                        source=PaymentSource.POS,
                        external_id=ref,
                        store=store,
                        amount=D(n),
                        currency="CNY",
                        payer=Payer(telegram_id=who, first_name="x", channel=Channel.CHAT),
                        policy=policy,
                        now=now,
                    )
                    paid.append(ref)
                elif op == "exchange":
                    try:
                        await coupons.exchange_points(
                            session,
                            member_id=member_id,
                            template_key="ten_off",
                            policy=policy,
                            now=now,
                        )
                    except CouponProblem as problem:
                        reason = problem.reason
                        assert reason == "no_points"
                elif op == "refund":
                    ref = paid[n % len(paid)]
                    payment = await session.scalar(
                        select(Payment).where(col(Payment.external_id) == ref)
                    )
                    assert payment is not None
                    assert payment.id is not None
                    if payment.status != "refunded":
                        await refund_payment(
                            session,
                            payment_id=payment.id,
                            by_telegram_id=1,
                            policy=policy,
                            now=now,
                        )
                elif op == "days":
                    now += timedelta(days=n)
                else:
                    await points.expire_points(session, policy=policy, now=now)
            async with factory() as session:
                member = await session.get(Member, member_id)
                assert member is not None
                ledger = await points.ledger_balance(session, member_id=member_id)
                assert member.points_balance == ledger >= 0
                exchanges = await session.scalar(
                    select(func.count())
                    .select_from(PointsEntry)
                    .where(
                        col(PointsEntry.member_id) == member_id,
                        col(PointsEntry.reason) == "exchange",
                    )
                )
                issued = await session.scalar(
                    select(func.count())
                    .select_from(Coupon)
                    .where(col(Coupon.member_id) == member_id, col(Coupon.campaign) == "points")
                )
                assert exchanges == issued
    finally:
        await engine.dispose()


_EXPIRING = Path(__file__).parent / "expiring_points.toml"


@pytest.fixture
async def migrated_url(database_url: str) -> str:
    engine = create_engine(database_url)
    await upgrade(engine)
    await engine.dispose()
    return database_url


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_the_points_ledger_stays_consistent(migrated_url: str, ops: list[tuple[str, int]]) -> None:
    """Over random payments, exchanges, refunds, expiries and time: the balance on the member is
    the ledger's sum, never negative, and every exchange issued exactly one coupon."""
    asyncio.run(_scenario(migrated_url, ops))


async def test_unspent_points_expire_first_in_first_out(
    factory: async_sessionmaker[AsyncSession], store: StoreRef
) -> None:
    policy = load_policy(_EXPIRING)  # expire after 90 days
    dana = await pay(factory, store, policy, who=DANA, amount=D(400), at=NOON, ref="a")
    async with factory() as session, session.begin():  # spend 300 of the 400
        await coupons.exchange_points(
            session, member_id=dana, template_key="ten_off", policy=policy, now=NOON
        )
    later = NOON + timedelta(days=60)
    await pay(factory, store, policy, who=DANA, amount=D(50), at=later, ref="b")
    async with factory() as session, session.begin():
        assert (
            await points.expire_points(session, policy=policy, now=NOON + timedelta(days=89)) == 0
        )
    async with factory() as session, session.begin():
        touched = await points.expire_points(session, policy=policy, now=NOON + timedelta(days=91))
        assert touched == 1
    async with factory() as session, session.begin():  # twice is harmless
        assert (
            await points.expire_points(session, policy=policy, now=NOON + timedelta(days=92)) == 0
        )
    async with factory() as session:
        member = await session.get(Member, dana)
        assert member is not None
        # the 100 left of the first 400 expired; the 50 from day 60 remain
        assert member.points_balance == 50 == await points.ledger_balance(session, member_id=dana)
        users = await session.scalar(select(func.count()).select_from(TelegramUser))
        assert users == 1


async def test_a_double_tap_on_one_exchange_button_spends_the_points_once(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    dana = await pay(factory, store, policy, who=DANA, amount=D(900), at=NOON, ref="big")

    async def tap(key: str) -> str:
        try:
            async with factory() as session, session.begin():
                await coupons.exchange_points(
                    session,
                    member_id=dana,
                    template_key="ten_off",
                    policy=policy,
                    now=NOON,
                    request_key=key,
                )
        except CouponProblem as problem:
            return problem.reason
        return "ok"

    # 900 points would buy three; two taps on one button buy one, a fresh button another
    assert sorted(await asyncio.gather(tap("button-1"), tap("button-1"))) == ["already", "ok"]
    assert await tap("button-2") == "ok"
    async with factory() as session:
        member = await session.get(Member, dana)
        assert member is not None
        assert member.points_balance == 300 == await points.ledger_balance(session, member_id=dana)
        held = await coupons.usable_coupons(session, member_id=dana, now=NOON)
        assert len(held) == 2
