"""Staff cannot credit themselves through a receipt or the counter (issue 19, finding 3).

The policy's fraud rule (`cashier_self_credit = false`, it can never be true) holds on every
path where staff decide who is credited: a receipt the POS created, a receipt a colleague
issued with /bill, a payment a colleague records on their card. The claim is refused (the money
stays recorded, no points or visit), the person is told why, and a fraud event is recorded for
the managers. A diner claiming the same kind of receipt is credited as before."""

from __future__ import annotations

from decimal import Decimal

import pytest
from aiogram.methods import SendMessage
from aiogram.types import InlineKeyboardMarkup
from sqlalchemy import select
from sqlmodel import col

from loyalty.payments import PaymentSource, StoreRef, issue_receipt
from loyalty.qr import CardPayload, ReceiptPayload
from models.tables import FraudEvent, Member, Payment
from tests.app.cast import CASHIER, DINER_EN, MANAGER, OWNER, Cast, cast

__all__ = ["cast"]

REFUSED = "It earns no points or visit: staff cannot credit their own account."


async def receipt(cast: Cast, source: PaymentSource, cashier: int | None) -> tuple[int, str]:
    services = cast.app.services
    async with services.session_factory() as session, session.begin():
        issued = await issue_receipt(
            session,
            source=source,
            external_id=f"{source.value}-{cashier}-{services.clock.now().timestamp()}",
            store=StoreRef(services.store.id, services.store.timezone),
            amount=Decimal("42.00"),
            currency=services.store.currency,
            policy=services.policy,
            now=services.clock.now(),
            cashier_telegram_id=cashier,
        )
    payload = services.signer.sign(ReceiptPayload(issued.payment_id, issued.expires_at))
    return issued.payment_id, payload


async def outcome(cast: Cast, payment_id: int) -> tuple[Payment, list[FraudEvent]]:
    async with cast.app.services.session_factory() as session:
        payment = await session.get(Payment, payment_id)
        frauds = (
            (
                await session.execute(
                    select(FraudEvent).where(col(FraudEvent.payment_id) == payment_id)
                )
            )
            .scalars()
            .all()
        )
    assert payment is not None
    return payment, list(frauds)


@pytest.mark.parametrize(
    ("source", "issuer", "claimer"),
    [
        (PaymentSource.POS, None, CASHIER),
        (PaymentSource.POS, None, MANAGER),
        (PaymentSource.RECEIPT, MANAGER, CASHIER),
    ],
    ids=["POS receipt, cashier", "POS receipt, manager", "colleague's /bill receipt"],
)
async def test_staff_claiming_a_receipt_of_their_store_are_refused_and_recorded(
    cast: Cast, source: PaymentSource, issuer: int | None, claimer: int
) -> None:
    payment_id, payload = await receipt(cast, source, issuer)
    said = await cast.app.say(cast.user(claimer), f"/start {payload}")
    assert cast.tr(claimer, REFUSED) in said[0].text
    payment, frauds = await outcome(cast, payment_id)
    assert (payment.status, payment.refusal, payment.points_awarded) == (
        "refused",
        "self_credit",
        0,
    )
    assert payment.visit_id is None
    assert [(f.kind, f.telegram_id) for f in frauds] == [("self_credit", claimer)]


async def test_a_colleague_recording_a_payment_on_a_staff_card_is_refused(cast: Cast) -> None:
    """The manager paid once (a member); the cashier scans the manager's card and records a
    bill: refused and recorded, like the cashier's own card."""
    app = cast.app
    manager_receipt, payload = await receipt(cast, PaymentSource.POS, None)
    await app.say(cast.user(MANAGER), f"/start {payload}")  # a member now (refused credit)
    async with app.services.session_factory() as session:
        member = await session.scalar(
            select(col(Payment.member_id)).where(col(Payment.id) == manager_receipt)
        )
    assert member is not None
    card = app.services.signer.sign(CardPayload(member))
    cashier = cast.user(CASHIER)
    await app.say(cashier, f"/start {card}")
    said = await app.say(cashier, "20.00")
    confirm = next(
        m.reply_markup
        for m in app.session.calls[::-1]
        if isinstance(m, SendMessage) and isinstance(m.reply_markup, InlineKeyboardMarkup)
    )
    assert isinstance(confirm, InlineKeyboardMarkup)
    data = confirm.inline_keyboard[0][0].callback_data
    assert data is not None
    await app.press(cashier, data)
    async with app.services.session_factory() as session:
        recorded = (
            await session.execute(
                select(Payment).where(
                    col(Payment.member_id) == member, col(Payment.source) == "cashier"
                )
            )
        ).scalar_one()
    assert (recorded.status, recorded.refusal) == ("refused", "self_credit")
    assert said  # the amount was asked and confirmed


async def test_a_diner_claiming_a_pos_receipt_is_credited(cast: Cast) -> None:
    payment_id, payload = await receipt(cast, PaymentSource.POS, None)
    said = await cast.app.say(cast.user(DINER_EN), f"/start {payload}")
    assert REFUSED not in said[0].text
    payment, frauds = await outcome(cast, payment_id)
    assert (payment.status, frauds) == ("credited", [])


async def test_the_owner_is_not_store_staff(cast: Cast) -> None:
    """Owners come from the configuration and pay into their own business: a receipt they
    claim is credited (the rule is about staff taking diners' credit)."""
    payment_id, payload = await receipt(cast, PaymentSource.POS, None)
    await cast.app.say(cast.user(OWNER), f"/start {payload}")
    payment, _ = await outcome(cast, payment_id)
    assert payment.status == "credited"
    async with cast.app.services.session_factory() as session:
        assert await session.get(Member, payment.member_id) is not None
