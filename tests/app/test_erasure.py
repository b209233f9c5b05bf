"""Erasure covers every copy (issue 19, finding 1).

Zephyrine joins, checks in, rates a visit 1★ and writes what went wrong (her words are
forwarded to the owner and the manager, and delivered), suggests something, answers the offers
question, opens a bill, refers a friend, gets a gift; then /forget → Yes. Afterwards a dump of
every row of every table holds neither her name, her Telegram id, nor any text she wrote."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select, text, update
from sqlmodel import SQLModel, col

from loyalty import roles
from loyalty.payments import PaymentSource, StoreRef, issue_receipt
from loyalty.qr import ReceiptPayload, ReferralPayload, TablePayload
from models import queries
from models.tables import Feedback, OutboxMessage, Role, Staff, Visit
from tests.app.cast import MANAGER, OWNER, Cast, cast
from tests.app.direct import Direct

__all__ = ["cast"]

ZEPHYRINE = 7_345_678_901
NAME = "Zephyrine"
FRIEND = 7_345_000_222
COMPLAINT = "The waiter Tom was rude; call me at +1 555 0100, Zephyrine"
SUGGESTION = "More vegan dumplings please"
WRITTEN = (COMPLAINT, "+1 555 0100", "Tom was rude", SUGGESTION, "vegan dumplings")


async def dump(app: Direct) -> str:
    """Every value of every row of every table, as text."""
    lines = []
    async with app.services.session_factory() as session:
        for name in SQLModel.metadata.tables:
            for row in (await session.execute(text(f'SELECT * FROM "{name}"'))).all():
                lines.append(f"{name}: " + " | ".join(str(value) for value in row))
    return "\n".join(lines)


async def claim_a_receipt(app: Direct, telegram_id: int, name: str, ref: str) -> None:
    services = app.services
    async with services.session_factory() as session, session.begin():
        issued = await issue_receipt(
            session,
            source=PaymentSource.POS,
            external_id=ref,
            store=StoreRef(services.store.id, services.store.timezone),
            amount=Decimal("30.00"),
            currency=services.store.currency,
            policy=services.policy,
            now=services.clock.now(),
        )
    payload = services.signer.sign(ReceiptPayload(issued.payment_id, issued.expires_at))
    await app.say(app.user(telegram_id, "en", name), f"/start {payload}")


async def live_a_little(cast: Cast) -> int:
    """Zephyrine's history; her member id."""
    app = cast.app
    services = app.services
    she = app.user(ZEPHYRINE, "en", NAME)
    async with services.session_factory() as session, session.begin():
        await queries.ensure_tables(
            session, store_id=services.store.id, numbers=[7], now=services.clock.now()
        )
    table = services.signer.sign(TablePayload(store_id=services.store.id, table=7))
    await app.say(she, f"/start {table}")
    await claim_a_receipt(app, ZEPHYRINE, NAME, "zephyrine-1")
    await app.press(she, "consent:1")
    await app.press(she, "bday:3:14")
    async with services.session_factory() as session:
        member_id = await session.scalar(
            select(col(Visit.member_id)).order_by(col(Visit.id).desc()).limit(1)
        )
        visit = await session.scalar(select(col(Visit.id)).order_by(col(Visit.id).desc()).limit(1))
    assert member_id is not None
    await app.press(she, f"fb:{visit}:1")  # low: the owner and the manager hear at once
    await app.say(she, COMPLAINT)  # forwarded to them, in full
    await app.say(she, f"/suggest {SUGGESTION}")
    await app.say(she, "/pay")
    await app.say(she, "12.50")  # an open bill
    referral = services.signer.sign(ReferralPayload(member_id))
    await app.say(app.user(FRIEND, "en", "Friend"), f"/start {referral}")
    await claim_a_receipt(app, FRIEND, "Friend", "friend-1")
    template = next(iter(services.policy.coupons.templates))
    await app.say(cast.user(OWNER), f"/gift {member_id} {template}")
    async with services.session_factory() as session, session.begin():
        # delivered, as the worker marks them (it sends through aiohttp, not this harness)
        await session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.status) == "pending")
            .values(status="sent", sent_at=services.clock.now(), telegram_message_id=1, error=None)
        )
    return int(member_id)


async def test_after_forget_no_row_holds_her_name_id_or_words(cast: Cast) -> None:
    app = cast.app
    member_id = await live_a_little(cast)
    before = await dump(app)
    # the journey left her traces everywhere (else this test would prove nothing)
    assert NAME in before
    assert str(ZEPHYRINE) in before
    assert all(words in before for words in WRITTEN)
    async with app.services.session_factory() as session:
        alerts = (
            await session.execute(
                select(col(OutboxMessage.telegram_id), col(OutboxMessage.status)).where(
                    col(OutboxMessage.text).contains("Tom was rude")
                )
            )
        ).all()
    assert sorted(alerts) == [(OWNER, "sent"), (MANAGER, "sent")]

    # she worked a shift as a cashier once: the audit log names her
    async with app.services.session_factory() as session, session.begin():
        await roles.grant(
            session,
            telegram_id=ZEPHYRINE,
            store_id=app.services.store.id,
            role=Role.CASHIER,
            display_name=NAME,
            granted_by=OWNER,
            now=app.services.clock.now(),
        )
        row = await session.scalar(select(col(Staff.id)).where(col(Staff.telegram_id) == ZEPHYRINE))
    await app.press(cast.user(OWNER), f"rms:{row}")

    she = app.user(ZEPHYRINE, "en", NAME)
    await app.say(she, "/forget")
    await app.press(she, "forget:1")

    after = await dump(app)
    assert NAME not in after
    assert str(ZEPHYRINE) not in after
    for words in WRITTEN:
        assert words not in after, words
    # what the restaurant keeps is anonymous: her rating and payments, under the member number
    async with app.services.session_factory() as session:
        ratings = (
            await session.execute(
                select(col(Feedback.rating)).where(
                    col(Feedback.member_id) == member_id, col(Feedback.kind) == "rating"
                )
            )
        ).scalars()
        assert list(ratings) == [1]


async def test_an_alert_not_sent_yet_is_cancelled_by_the_erasure(cast: Cast) -> None:
    app = cast.app
    await live_a_little(cast)
    she = app.user(ZEPHYRINE, "en", NAME)
    await app.say(she, "/suggest Quieter music")
    async with app.services.session_factory() as session, session.begin():
        await session.execute(  # as if the alerts were still waiting for the worker
            update(OutboxMessage)
            .where(col(OutboxMessage.text).contains(NAME))
            .values(status="pending")
        )
    await app.say(she, "/forget")
    await app.press(she, "forget:1")
    async with app.services.session_factory() as session:
        left = (
            await session.execute(
                select(col(OutboxMessage.status)).where(
                    col(OutboxMessage.dedupe_key).like("complaint:%")
                )
            )
        ).scalars()
        assert set(left) == {"cancelled"}
