"""Paying in chat: the diner names the amount, a bill is opened, Telegram's invoice and its
pre-checkout query are checked against it, and `successful_payment` settles it through
`record_payment` (keyed by Telegram's charge id, so a redelivered update credits once)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty import coupons, perks, stores
from loyalty.errors import DomainError
from loyalty.money import to_minor_units
from loyalty.payments import (
    Channel,
    Payer,
    PaymentOutcome,
    PaymentSource,
    StoreRef,
    record_payment,
)
from loyalty.policy import Policy
from models import queries
from models.tables import Bill

INVOICE_PREFIX = "bill:"
CHECK_IN_WINDOW = timedelta(hours=4)


class BillProblemKind(StrEnum):
    UNKNOWN = "unknown"
    NOT_YOURS = "not_yours"
    EXPIRED = "expired"
    PAID = "paid"
    MISMATCH = "mismatch"


class BillProblem(DomainError):
    def __init__(self, kind: BillProblemKind) -> None:
        super().__init__(kind.value)
        self.kind = kind


@dataclass(frozen=True, slots=True)
class BillInfo:
    id: int
    amount: Decimal
    currency: str
    store_name: str
    table_number: int | None
    expires_at: datetime
    discount: Decimal = Decimal(0)
    """Taken off by the coupon held for this bill; `amount` is what is left to pay."""
    perk: Decimal = Decimal(0)
    """Taken off by the member's standing perk (after the coupon)."""

    @property
    def invoice_payload(self) -> str:
        return f"{INVOICE_PREFIX}{self.id}"

    @property
    def minor_units(self) -> int:
        return to_minor_units(self.amount, self.currency)


def bill_id_from_payload(payload: str) -> int | None:
    if not payload.startswith(INVOICE_PREFIX):
        return None
    digits = payload.removeprefix(INVOICE_PREFIX)
    return int(digits) if digits.isdigit() else None


async def open_bill(
    session: AsyncSession,
    *,
    telegram_id: int,
    store_id: int,
    amount: Decimal,
    policy: Policy,
    now: datetime,
    coupon_id: int | None = None,
) -> BillInfo:
    """A bill for the amount the diner typed (already validated), tied to their table if they
    checked in recently. With `coupon_id` the coupon is held for the bill and the bill is for
    the amount less its discount; if the coupon cannot be used (CouponProblem) nothing is
    written."""
    store = await stores.store_info(session, store_id=store_id)
    if store is None:
        raise BillProblem(BillProblemKind.UNKNOWN)
    check_in = await queries.latest_check_in(
        session, telegram_id=telegram_id, since=now - CHECK_IN_WINDOW
    )
    table_id = check_in.table_id if check_in is not None and check_in.store_id == store.id else None
    bill = Bill(
        telegram_id=telegram_id,
        store_id=store.id,
        table_id=table_id,
        amount=amount,
        currency=store.currency,
        created_at=now,
        expires_at=now + timedelta(minutes=policy.payments.bill_ttl_minutes),
    )
    discount = Decimal(0)
    if coupon_id is None:  # nothing to undo: no savepoint (two statements less per bill)
        session.add(bill)
        await session.flush()
    else:
        async with session.begin_nested():
            session.add(bill)
            await session.flush()
            assert bill.id is not None
            discount = await coupons.reserve_for_bill(
                session,
                coupon_id=coupon_id,
                telegram_id=telegram_id,
                amount=amount,
                bill_id=bill.id,
                until=bill.expires_at,
                now=now,
            )
            bill.amount = amount - discount
            await session.flush()
    assert bill.id is not None
    perk = await perks.hold_for_bill(
        session,
        telegram_id=telegram_id,
        store_id=store.id,
        bill_id=bill.id,
        amount=bill.amount,
        currency=store.currency,
        policy=policy,
        now=now,
    )
    if perk:
        bill.amount -= perk
        await session.flush()
    number = await stores.table_number(session, table_id=table_id) if table_id else None
    return _info(bill, store.name, number, discount=discount, perk=perk)


async def check_pre_checkout(
    session: AsyncSession,
    *,
    payload: str,
    telegram_id: int,
    currency: str,
    total_amount: int,
    now: datetime,
) -> None:
    """Raise BillProblem unless this invoice matches an open bill of this person."""
    bill = await _bill(session, payload)
    _check(bill, telegram_id=telegram_id, now=now)
    if bill.currency != currency or to_minor_units(bill.amount, bill.currency) != total_amount:
        raise BillProblem(BillProblemKind.MISMATCH)


async def settle_bill(
    session: AsyncSession,
    *,
    payload: str,
    telegram_charge_id: str,
    currency: str,
    total_amount: int,
    payer_telegram_id: int,
    payer_first_name: str,
    policy: Policy,
    now: datetime,
) -> PaymentOutcome:
    """Telegram took the money: record it (once, keyed by the charge id) and close the bill.

    The money is recorded even if the bill expired meanwhile: Telegram only charges after our
    pre-checkout answer, so a charge always matches a bill we approved.
    """
    bill = await _bill(session, payload)
    if bill.telegram_id != payer_telegram_id:
        raise BillProblem(BillProblemKind.NOT_YOURS)
    if bill.currency != currency or to_minor_units(bill.amount, bill.currency) != total_amount:
        raise BillProblem(BillProblemKind.MISMATCH)
    store = await stores.store_info(session, store_id=bill.store_id)
    assert store is not None
    channel = Channel.TABLE_QR if bill.table_id is not None else Channel.CHAT
    outcome = await record_payment(
        session,
        source=PaymentSource.CHAT,
        external_id=telegram_charge_id,
        store=StoreRef(id=store.id, timezone=store.timezone),
        amount=bill.amount,
        currency=bill.currency,
        payer=Payer(
            telegram_id=payer_telegram_id,
            first_name=payer_first_name,
            channel=channel,
        ),
        policy=policy,
        now=now,
        table_id=bill.table_id,
    )
    bill.status = "paid"
    bill.payment_id = outcome.payment_id
    assert bill.id is not None
    coupon = await coupons.settle_for_bill(
        session, bill_id=bill.id, payment_id=outcome.payment_id, now=now
    )
    if coupon is not None and coupon.discount:
        outcome = replace(outcome, coupon_discount=coupon.discount)
    perk = await perks.settle_for_bill(
        session, bill_id=bill.id, payment_id=outcome.payment_id, now=now
    )
    if perk:
        outcome = replace(outcome, perk_discount=perk)
    return outcome


async def _bill(session: AsyncSession, payload: str) -> Bill:
    bill_id = bill_id_from_payload(payload)
    bill = await session.get(Bill, bill_id) if bill_id is not None else None
    if bill is None:
        raise BillProblem(BillProblemKind.UNKNOWN)
    return bill


def _check(bill: Bill, *, telegram_id: int, now: datetime) -> None:
    if bill.telegram_id != telegram_id:
        raise BillProblem(BillProblemKind.NOT_YOURS)
    if bill.status == "paid":
        raise BillProblem(BillProblemKind.PAID)
    if now >= bill.expires_at:
        raise BillProblem(BillProblemKind.EXPIRED)


def _info(
    bill: Bill,
    store_name: str,
    table_number: int | None,
    *,
    discount: Decimal = Decimal(0),
    perk: Decimal = Decimal(0),
) -> BillInfo:
    assert bill.id is not None
    return BillInfo(
        id=bill.id,
        amount=bill.amount,
        currency=bill.currency,
        store_name=store_name,
        table_number=table_number,
        expires_at=bill.expires_at,
        discount=discount,
        perk=perk,
    )
