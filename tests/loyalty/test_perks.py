"""Standing perks on real bills (issue 17, part 4): the value preset's C member gets 10 % off a
bill opened in chat, once per bill; the perk is used with the payment, once whatever Telegram
redelivers; the counter's perk is recorded once per payment; /stats counts used perks per tier
inside its period only."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from loyalty import bills, perks
from loyalty.channels import Channel
from loyalty.money import to_minor_units
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment
from loyalty.policy import Policy, load_policy, load_preset
from models.tables import Member, PerkUse
from tests.loyalty.conftest import OPENED

DANA, LI_NA = 5_000_001, 5_000_002
VALUE = load_preset("value")


async def member(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, telegram_id: int, tier: str
) -> int:
    """A member a manager graded `tier` (/grade: their payments here do not move it)."""
    async with factory() as session, session.begin():
        outcome = await record_payment(
            session,
            source=PaymentSource.POS,
            external_id=f"first-{telegram_id}",
            store=store,
            amount=Decimal(60),
            currency="CNY",
            payer=Payer(telegram_id=telegram_id, first_name="Guest", channel=Channel.CHAT),
            policy=VALUE,
            now=OPENED - timedelta(days=3),
        )
        await session.execute(
            update(Member)
            .where(col(Member.id) == outcome.member_id)
            .values(tier=tier, manual_tier=tier)
        )
    return outcome.member_id


async def open_bill(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, telegram_id: int, amount: str
) -> bills.BillInfo:
    async with factory() as session, session.begin():
        return await bills.open_bill(
            session,
            telegram_id=telegram_id,
            store_id=store.id,
            amount=Decimal(amount),
            policy=VALUE,
            now=OPENED,
        )


async def pay(
    factory: async_sessionmaker[AsyncSession], bill: bills.BillInfo, telegram_id: int, charge: str
) -> Decimal | None:
    async with factory() as session, session.begin():
        outcome = await bills.settle_bill(
            session,
            payload=bill.invoice_payload,
            telegram_charge_id=charge,
            currency=bill.currency,
            total_amount=to_minor_units(bill.amount, bill.currency),
            payer_telegram_id=telegram_id,
            payer_first_name="Guest",
            policy=VALUE,
            now=OPENED + timedelta(minutes=5),
        )
    return outcome.perk_discount


async def uses(factory: async_sessionmaker[AsyncSession]) -> list[tuple[str, str, Decimal]]:
    async with factory() as session:
        rows = await session.execute(
            select(col(PerkUse.tier), col(PerkUse.status), col(PerkUse.discount)).order_by(
                col(PerkUse.id)
            )
        )
        return [(t, s, Decimal(d)) for t, s, d in rows.tuples().all()]


async def test_a_c_member_s_bill_in_chat_is_ten_percent_less_and_the_perk_used_once(
    factory: async_sessionmaker[AsyncSession], store: StoreRef
) -> None:
    await member(factory, store, DANA, "C")
    bill = await open_bill(factory, store, DANA, "333")
    assert (bill.perk, bill.amount) == (Decimal("33.30"), Decimal("299.70"))
    assert await uses(factory) == [("C", "held", Decimal("33.30"))]
    big = await open_bill(factory, store, DANA, "900")  # another bill, opened before paying
    assert (big.perk, big.amount) == (Decimal(50), Decimal(850))  # the cap

    assert await pay(factory, bill, DANA, "charge-1") == Decimal("33.30")
    assert await pay(factory, bill, DANA, "charge-1") == Decimal("33.30")  # redelivered
    assert await uses(factory) == [("C", "used", Decimal("33.30")), ("C", "held", Decimal(50))]

    ten = await open_bill(factory, store, DANA, "10")  # a perk of exactly 1 is still a perk
    assert (ten.perk, ten.amount) == (Decimal("1.00"), Decimal("9.00"))
    tiny = await open_bill(factory, store, DANA, "0.04")  # 10 % of it rounds to nothing
    assert (tiny.perk, tiny.amount) == (Decimal(0), Decimal("0.04"))
    async with factory() as session:
        rows = await session.execute(
            select(col(PerkUse.bill_id), col(PerkUse.payment_id), col(PerkUse.status)).order_by(
                col(PerkUse.id)
            )
        )
        recorded = rows.tuples().all()
    # the first bill's perk is used with its payment; the big bill's is still held, unpaid
    assert [(b, p is not None, s) for b, p, s in recorded] == [
        (bill.id, True, "used"),
        (big.id, False, "held"),
        (ten.id, False, "held"),
    ]


async def test_no_perk_for_tiers_without_one_for_strangers_or_for_erased_members(
    factory: async_sessionmaker[AsyncSession], store: StoreRef
) -> None:
    await member(factory, store, DANA, "B")  # 001 gives B other things
    bill = await open_bill(factory, store, DANA, "200")
    assert (bill.perk, bill.amount) == (Decimal(0), Decimal(200))
    stranger = await open_bill(factory, store, 5_000_099, "200")
    assert (stranger.perk, stranger.amount) == (Decimal(0), Decimal(200))
    erased = await member(factory, store, LI_NA, "C")
    async with factory() as session, session.begin():
        await session.execute(
            update(Member).where(col(Member.id) == erased).values(erased_at=OPENED)
        )
    assert (await open_bill(factory, store, LI_NA, "200")).perk == Decimal(0)
    assert await uses(factory) == []
    assert await pay(factory, bill, DANA, "charge-b") is None


async def test_the_counter_s_perk_is_recorded_once_per_payment(
    factory: async_sessionmaker[AsyncSession], store: StoreRef
) -> None:
    member_id = await member(factory, store, DANA, "C")
    assert perks.at_counter(VALUE, tier="C", amount=Decimal("0.04"), currency="CNY") is None
    one = perks.at_counter(VALUE, tier="C", amount=Decimal(10), currency="CNY")
    assert one is not None
    assert one.off_bill == Decimal("1.00")
    perk = perks.at_counter(VALUE, tier="C", amount=Decimal("86.50"), currency="CNY")
    assert perk is not None
    assert (perk.off_bill, perk.worth) == (Decimal("8.65"), Decimal("8.65"))
    assert perks.at_counter(VALUE, tier="B", amount=Decimal(100), currency="CNY") is None
    async with factory() as session, session.begin():
        outcome = await record_payment(
            session,
            source=PaymentSource.POS,
            external_id="counter-1",
            store=store,
            amount=Decimal("77.85"),
            currency="CNY",
            payer=Payer(telegram_id=DANA, first_name="Dana", channel=Channel.CASHIER),
            policy=VALUE,
            now=OPENED,
        )
        for _ in range(2):
            await perks.record_with_payment(
                session,
                member_id=member_id,
                store_id=store.id,
                payment_id=outcome.payment_id,
                perk=perk,
                now=OPENED,
            )
    assert await uses(factory) == [("C", "used", Decimal("8.65"))]


@pytest.fixture
def tmp_policy(tmp_path: Path) -> Policy:
    """The frequency preset with a free drink for regulars on bills of $40 or more."""
    path = tmp_path / "policy.toml"
    path.write_text(
        'preset = "frequency"\n[treatments.regular]\nperk = { kind = "item", value = 15, '
        'min_spend = 40, item = { en = "a drink", zh_Hans = "饮品一杯", zh_Hant = "飲品一杯" } }\n',
        encoding="utf-8",
    )
    return load_policy(path)


def test_an_item_perk_is_given_beside_the_bill_at_the_counter(tmp_policy: Policy) -> None:
    perk = perks.at_counter(tmp_policy, tier="regular", amount=Decimal(40), currency="USD")
    assert perk is not None  # a bill of exactly the minimum spend gets it
    assert (perk.tier, perk.kind, perk.off_bill, perk.worth) == (
        "regular",
        "item",
        Decimal(0),
        Decimal(15),
    )
    # below the perk's minimum spend: nothing
    assert perks.at_counter(tmp_policy, tier="regular", amount=Decimal(39), currency="USD") is None


async def test_stats_count_used_perks_per_tier_in_the_period_only(
    factory: async_sessionmaker[AsyncSession], store: StoreRef
) -> None:
    await member(factory, store, DANA, "C")
    paid = await open_bill(factory, store, DANA, "100")
    await pay(factory, paid, DANA, "charge-1")
    await open_bill(factory, store, DANA, "200")  # held, never paid: not counted
    async with factory() as session:
        figures = await perks.used_by_tier(
            session,
            store_id=store.id,
            start=OPENED,
            end=OPENED + timedelta(days=1),
            policy=VALUE,
        )
        before = await perks.used_by_tier(
            session, store_id=store.id, start=OPENED - timedelta(days=1), end=OPENED, policy=VALUE
        )
        paid_at = OPENED + timedelta(minutes=5)  # when pay() settles the bill
        from_then = await perks.used_by_tier(
            session, store_id=store.id, start=paid_at, end=paid_at + timedelta(1), policy=VALUE
        )
        later = await perks.used_by_tier(
            session,
            store_id=store.id,
            start=paid_at + timedelta(minutes=1),
            end=paid_at + timedelta(1),
            policy=VALUE,
        )
        until_then = await perks.used_by_tier(
            session, store_id=store.id, start=OPENED, end=paid_at, policy=VALUE
        )
        held = await session.scalar(select(func.count()).select_from(PerkUse))
    assert [(f.tier, f.uses, f.discount) for f in figures] == [("C", 1, Decimal(10))]
    assert before == ()
    assert [f.uses for f in from_then] == [1]  # a period includes its first moment
    assert until_then == ()  # and leaves out its end
    assert later == ()
    assert held == 2
