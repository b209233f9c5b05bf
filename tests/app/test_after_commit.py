"""Telegram refusing a message to the other person, after the work is committed, is an outcome
to report, not a failure (issue 19, finding 5).

A diner who blocked the bot (403) or whose chat Telegram no longer knows (400): the cashier's
payment and coupon, the manager's refund and gift are recorded, and the staff member is told
the truth — recorded, and the diner could not be told — instead of "something went wrong"."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest
from aiogram.exceptions import TelegramBadRequest
from aiogram.methods import SendMessage, TelegramMethod
from sqlalchemy import select
from sqlmodel import col

from loyalty import coupons
from loyalty.qr import CardPayload, CouponPayload
from models.tables import Coupon, Payment
from tests.app.cast import CASHIER, DINER_EN, OWNER, Cast, cast
from tests.app.direct import RecordingSession

__all__ = ["cast"]

APOLOGY = "Sorry, something went wrong on our side. Please try again in a moment."
BLOCKED = "The diner could not be told: they blocked the bot."


def no_failure(caplog: pytest.LogCaptureFixture) -> None:
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []


async def test_a_cashier_recording_a_payment_for_a_diner_who_blocked_the_bot(
    cast: Cast, caplog: pytest.LogCaptureFixture
) -> None:
    app = cast.app
    cashier = cast.user(CASHIER)
    card = app.services.signer.sign(CardPayload(cast.members[DINER_EN]))
    app.session.blocked.add(DINER_EN)
    await app.say(cashier, f"/start {card}")
    await app.say(cashier, "20.00")
    (_, confirm), _cancel = app.session.buttons(CASHIER)
    with caplog.at_level(logging.INFO):
        said = await app.press(cashier, confirm)
    no_failure(caplog)
    texts = [s.text for s in said]
    assert cast.tr(CASHIER, APOLOGY) not in texts
    async with app.services.session_factory() as session:
        recorded = await session.scalar(select(Payment).where(col(Payment.source) == "cashier"))
    assert recorded is not None
    assert recorded.status == "credited"
    edited = next(s.text for s in said if s.method == "EditMessageText")
    recorded_for = cast.tr(CASHIER, "Recorded for {name} (payment #{id}).")
    assert edited.startswith(recorded_for.format(name="Dana", id=recorded.id))
    assert edited.endswith(cast.tr(CASHIER, BLOCKED))


async def test_a_refund_for_a_diner_who_blocked_the_bot_is_reported_as_done(
    cast: Cast, caplog: pytest.LogCaptureFixture
) -> None:
    app = cast.app
    async with app.services.session_factory() as session:
        payment = await session.scalar(
            select(col(Payment.id)).where(col(Payment.member_id) == cast.members[DINER_EN])
        )
    app.session.blocked.add(DINER_EN)
    with caplog.at_level(logging.INFO):
        said = await app.say(cast.user(OWNER), f"/refund {payment}")
    no_failure(caplog)
    to_owner = [s for s in said if s.chat_id == OWNER]
    assert len(to_owner) == 1, [s.text for s in said]
    assert to_owner[0].text.startswith(f"Payment #{payment} refunded.")
    assert to_owner[0].text.endswith("The member could not be told: they blocked the bot.")


async def test_a_coupon_redeemed_for_a_diner_who_blocked_the_bot(
    cast: Cast, caplog: pytest.LogCaptureFixture
) -> None:
    app = cast.app
    services = app.services
    async with services.session_factory() as session, session.begin():
        ticket = await coupons.request_redemption(
            session,
            coupon_id=cast.coupon,
            telegram_id=DINER_EN,
            policy=services.policy,
            now=services.clock.now(),
        )
        coupon = await session.get(Coupon, cast.coupon)
        assert coupon is not None
        bill = str(max(coupon.min_spend, Decimal("50.00")))
    app.session.blocked.add(DINER_EN)
    cashier = cast.user(CASHIER)
    code = services.signer.sign(CouponPayload(ticket.redemption_id, ticket.expires_at))
    await app.say(cashier, f"/start {code}")
    await app.say(cashier, bill)
    [(_, confirm)] = app.session.buttons(CASHIER)
    with caplog.at_level(logging.INFO):
        said = await app.press(cashier, confirm)
    no_failure(caplog)
    edited = next(s.text for s in said if s.method == "EditMessageText")
    assert edited.endswith(cast.tr(CASHIER, BLOCKED))


async def test_a_gift_to_a_chat_telegram_no_longer_knows(
    cast: Cast, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = cast.app
    real = RecordingSession.make_request

    async def chat_not_found(
        self: RecordingSession, bot: object, method: TelegramMethod[object], timeout: object = None
    ) -> object:
        if isinstance(method, SendMessage) and method.chat_id == DINER_EN:
            raise TelegramBadRequest(method=method, message="Bad Request: chat not found")
        return await real(self, bot, method, timeout)  # type: ignore[arg-type]

    monkeypatch.setattr(RecordingSession, "make_request", chat_not_found)
    template = next(iter(app.services.policy.coupons.templates))
    with caplog.at_level(logging.INFO):
        said = await app.say(cast.user(OWNER), f"/gift {cast.members[DINER_EN]} {template}")
    no_failure(caplog)
    assert said[0].text.startswith(f"Gift sent to member #{cast.members[DINER_EN]}")
    assert said[-1].text == (
        "The member could not be told: Telegram did not take the message (their account may "
        "be gone); the coupon is in their /wallet all the same."
    )
