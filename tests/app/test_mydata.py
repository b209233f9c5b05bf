"""/mydata is complete (issue 19, finding 2): besides the profile, visits, payments and points,
the coupons (issued, redeemed with the bill), the tier history, offers consent given and
withdrawn, the friends brought, and the messages sent to the member."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal
from typing import Any

from aiogram.methods import SendDocument
from aiogram.types import BufferedInputFile
from sqlalchemy import update
from sqlmodel import col

from loyalty import coupons, outbox
from loyalty.payments import StoreRef
from loyalty.qr import ReferralPayload
from models.tables import OutboxMessage
from tests.app.cast import DINER_EN, OWNER, Cast, cast
from tests.app.test_erasure import claim_a_receipt

__all__ = ["cast"]

FRIEND = 2_000_301


async def my_data(cast: Cast, telegram_id: int) -> dict[str, Any]:
    app = cast.app
    start = len(app.session.calls)
    await app.say(cast.user(telegram_id), "/mydata")
    (sent,) = [m for m in app.session.calls[start:] if isinstance(m, SendDocument)]
    assert isinstance(sent.document, BufferedInputFile)
    document: dict[str, Any] = json.loads(sent.document.data)
    return document


async def test_mydata_lists_coupons_tiers_consents_referrals_and_messages(cast: Cast) -> None:
    app = cast.app
    services = app.services
    dana = cast.user(DINER_EN)
    member_id = cast.members[DINER_EN]
    # consent given at enrolment, withdrawn with /stop, given again in /profile
    await app.press(dana, "consent:1")
    app.clock.advance(timedelta(minutes=1))
    await app.say(dana, "/stop")
    app.clock.advance(timedelta(minutes=1))
    await app.press(dana, "prof:offers_on")
    # the gifted coupon (seed) redeemed at the counter on a bill of 60.00
    async with services.session_factory() as session, session.begin():
        ticket = await coupons.request_redemption(
            session,
            coupon_id=cast.coupon,
            telegram_id=DINER_EN,
            policy=services.policy,
            now=services.clock.now(),
        )
        await coupons.redeem_at_counter(
            session,
            redemption_id=ticket.redemption_id,
            cashier_telegram_id=OWNER,
            bill_amount=Decimal("60.00"),
            store=StoreRef(services.store.id, services.store.timezone),
            policy=services.policy,
            now=services.clock.now(),
        )
    # a friend joins through her link
    referral = services.signer.sign(ReferralPayload(member_id))
    await app.say(app.user(FRIEND, "en", "Friend"), f"/start {referral}")
    await claim_a_receipt(app, FRIEND, "Friend", "friend-of-dana")
    # a message to her through the outbox, delivered
    await app.say(
        cast.user(OWNER), f"/gift {member_id} {next(iter(services.policy.coupons.templates))}"
    )
    async with services.session_factory() as session, session.begin():
        await outbox.enqueue_one(
            session,
            telegram_id=DINER_EN,
            member_id=member_id,
            text="Happy birthday, Dana!",
            dedupe="birthday:test",
            now=services.clock.now(),
        )
        await session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.dedupe_key) == "birthday:test")
            .values(status="sent", sent_at=services.clock.now())
        )

    document = await my_data(cast, DINER_EN)

    redeemed = [c for c in document["coupons"] if c["status"] == "redeemed"]
    assert len(redeemed) == 1
    assert redeemed[0]["bill_amount"] == "60.00"
    assert redeemed[0]["redeemed_at"] is not None
    assert [c["why"] for c in document["coupons"]] == ["gift", "gift"]  # and the new gift
    assert [(e["offers"], e["via"]) for e in document["consents"]] == [
        ("given", "enrolment"),
        ("withdrawn", "stop"),
        ("given", "profile"),
    ]
    assert document["tier_history"] == [] or all("to" in t for t in document["tier_history"])
    assert [r["points"] for r in document["referrals"]] == [services.policy.points.referral_bonus]
    texts = [m["text"] for m in document["messages"]]
    assert "Happy birthday, Dana!" in texts
    assert all("Friend" not in text for text in texts)  # the friend's data is theirs


async def test_mydata_shows_the_tier_history(cast: Cast) -> None:
    app = cast.app
    for n in range(8):  # enough visits to climb the frequency ladder
        app.clock.advance(timedelta(days=2))
        await claim_a_receipt(app, DINER_EN, "Dana", f"dana-visit-{n}")
    document = await my_data(cast, DINER_EN)
    history = document["tier_history"]
    assert history, "no tier change recorded"
    assert history[0]["direction"] == "up"
    assert history[0]["from"] == services_first_tier(cast)
    assert history[-1]["to"] == document["member"]["tier"]["key"]


def services_first_tier(cast: Cast) -> str:
    return cast.app.services.policy.tiers.keys[0]
