"""A member's own data on a real database: card, birthday, consent, export and erasure."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty import member_account
from loyalty.payments import Channel, Payer, PaymentSource, StoreRef, record_payment
from loyalty.policy import Consent, Policy, load_policy
from loyalty.stores import ensure_default_store
from models import queries
from models.db import create_engine, create_session_factory
from models.migrate import upgrade
from models.tables import (
    AuditLog,
    Bill,
    CheckIn,
    Feedback,
    FraudEvent,
    Member,
    OutboxMessage,
    Payment,
    PointsEntry,
    TelegramUser,
    Visit,
)

NOW = datetime(2026, 10, 2, 12, 0, tzinfo=UTC)
DANA, SAM = 2_000_001, 2_000_002


@pytest.fixture
async def factory(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    await upgrade(engine)
    try:
        yield create_session_factory(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def policy() -> Policy:
    return load_policy()


async def _store(session: AsyncSession) -> StoreRef:
    info = await ensure_default_store(
        session, name="Noodle Bar", timezone="Asia/Shanghai", currency="CNY", now=NOW
    )
    return StoreRef(id=info.id, timezone=info.timezone)


async def pay(
    factory: async_sessionmaker[AsyncSession],
    policy: Policy,
    telegram_id: int,
    amount: str,
    *,
    at: datetime = NOW,
    external_id: str | None = None,
) -> int:
    async with factory() as session, session.begin():
        outcome = await record_payment(
            session,
            source=PaymentSource.POS,
            external_id=external_id or f"{telegram_id}-{at.isoformat()}",
            store=await _store(session),
            amount=Decimal(amount),
            currency="CNY",
            payer=Payer(telegram_id=telegram_id, first_name="Dana", channel=Channel.CASHIER),
            policy=policy,
            now=at,
        )
        return outcome.member_id


async def count(factory: async_sessionmaker[AsyncSession], table: type, *where: object) -> int:
    async with factory() as session:
        query = select(func.count()).select_from(table)
        for condition in where:
            query = query.where(condition)  # type: ignore[arg-type]
        return int(await session.scalar(query) or 0)


async def test_card_shows_tier_points_and_the_way_to_the_next_tier(
    factory: async_sessionmaker[AsyncSession], policy: Policy
) -> None:
    async with factory() as session:
        assert (
            await member_account.get_card(session, telegram_id=DANA, policy=policy, now=NOW) is None
        )
    member_id = await pay(factory, policy, DANA, "86.50")
    async with factory() as session:
        card = await member_account.get_card(session, telegram_id=DANA, policy=policy, now=NOW)
    assert card is not None
    assert card.member_id == member_id
    assert (card.tier, card.points_balance, card.visit_count) == ("newcomer", 86, 1)
    assert card.progress.next_tier == "occasional"
    assert card.progress.visits_needed == 1
    # the first visit keeps counting for the window (90 days): that is the deadline
    assert card.progress.deadline == NOW + timedelta(days=90)

    await pay(factory, policy, DANA, "40", at=NOW + timedelta(days=3))
    async with factory() as session:
        card = await member_account.get_card(
            session, telegram_id=DANA, policy=policy, now=NOW + timedelta(days=3)
        )
    assert card is not None
    assert (card.tier, card.progress.next_tier, card.progress.visits_needed) == (
        "occasional",
        "regular",
        2,
    )


async def test_birthday_is_month_and_day_with_29_february_allowed(
    factory: async_sessionmaker[AsyncSession], policy: Policy
) -> None:
    await pay(factory, policy, DANA, "20")
    async with factory() as session, session.begin():
        profile = await member_account.set_birthday(
            session, telegram_id=DANA, month=2, day=29, policy=policy
        )
    assert profile is not None
    assert profile.birthday == date(member_account.BIRTHDAY_YEAR, 2, 29)
    async with factory() as session:
        stored = await member_account.get_profile(session, telegram_id=DANA, policy=policy)
    assert stored is not None
    assert stored.birthday == date(2000, 2, 29)

    for month, day in [(4, 31), (2, 30), (13, 1), (0, 5), (1, 0)]:
        async with factory() as session, session.begin():
            with pytest.raises(member_account.InvalidBirthday):
                await member_account.set_birthday(
                    session, telegram_id=DANA, month=month, day=day, policy=policy
                )
    async with factory() as session, session.begin():
        cleared = await member_account.clear_birthday(session, telegram_id=DANA, policy=policy)
    assert cleared is not None
    assert cleared.birthday is None


async def test_non_members_change_nothing(
    factory: async_sessionmaker[AsyncSession], policy: Policy
) -> None:
    async with factory() as session, session.begin():
        assert (
            await member_account.set_birthday(
                session, telegram_id=SAM, month=3, day=1, policy=policy
            )
            is None
        )
        assert (
            await member_account.set_marketing(
                session, telegram_id=SAM, allowed=True, policy=policy, now=NOW
            )
            is None
        )
        assert (
            await member_account.answer_enrolment_consent(
                session, telegram_id=SAM, allowed=True, policy=policy, now=NOW
            )
            is None
        )
    assert await count(factory, Member) == 0


async def test_enrolment_consent_counts_once_and_stop_turns_offers_off(
    factory: async_sessionmaker[AsyncSession], policy: Policy
) -> None:
    await pay(factory, policy, DANA, "20")
    async with factory() as session:
        profile = await member_account.get_profile(session, telegram_id=DANA, policy=policy)
    assert profile is not None
    assert (profile.marketing, profile.consent_given) == (False, None)  # opt-in: not yet

    async with factory() as session, session.begin():
        first = await member_account.answer_enrolment_consent(
            session, telegram_id=DANA, allowed=True, policy=policy, now=NOW
        )
        again = await member_account.answer_enrolment_consent(
            session, telegram_id=DANA, allowed=False, policy=policy, now=NOW + timedelta(1)
        )
    assert first == member_account.ConsentAnswer(marketing=True, changed=True)
    assert again == member_account.ConsentAnswer(marketing=True, changed=False)

    later = NOW + timedelta(days=10)
    async with factory() as session, session.begin():
        stopped = await member_account.set_marketing(
            session, telegram_id=DANA, allowed=False, policy=policy, now=later
        )
        repeated = await member_account.set_marketing(
            session, telegram_id=DANA, allowed=False, policy=policy, now=later + timedelta(1)
        )
    assert stopped is not None
    assert repeated is not None
    assert (stopped.marketing, stopped.consent_given, stopped.consent_at) == (False, False, later)
    assert repeated.consent_at == later  # the same answer again keeps its time


async def test_opt_out_policy_sends_offers_until_the_member_says_no(
    factory: async_sessionmaker[AsyncSession], policy: Policy
) -> None:
    opt_out = dataclasses.replace(policy, consent=Consent(mode="opt-out"))
    await pay(factory, opt_out, DANA, "20")
    async with factory() as session, session.begin():
        profile = await member_account.get_profile(session, telegram_id=DANA, policy=opt_out)
        assert profile is not None
        assert (profile.marketing, profile.consent_given) == (True, None)
        answer = await member_account.answer_enrolment_consent(
            session, telegram_id=DANA, allowed=False, policy=opt_out, now=NOW
        )
    assert answer == member_account.ConsentAnswer(marketing=False, changed=True)


async def test_export_is_plain_json_with_exact_amounts(
    factory: async_sessionmaker[AsyncSession], policy: Policy
) -> None:
    async with factory() as session, session.begin():
        stranger = await member_account.export_data(
            session, telegram_id=SAM, policy=policy, locale="en", now=NOW
        )
    assert stranger["member"] is None
    assert stranger["telegram"] is None

    member_id = await pay(factory, policy, DANA, "86.50")
    await pay(factory, policy, DANA, "12.05", at=NOW + timedelta(days=2))
    async with factory() as session, session.begin():
        await member_account.set_birthday(session, telegram_id=DANA, month=7, day=4, policy=policy)
        await member_account.toggle_taste(session, telegram_id=DANA, tag="spicy", policy=policy)
        session.add(
            Feedback(
                member_id=member_id,
                kind="suggestion",
                text="More vegetarian dishes, please",
                created_at=NOW,
            )
        )
        await session.flush()
        document = await member_account.export_data(
            session, telegram_id=DANA, policy=policy, locale="zh_Hans", now=NOW + timedelta(3)
        )
    parsed = json.loads(json.dumps(document))  # nothing but JSON types
    member = parsed["member"]
    assert member["display_name"] == "Dana"
    assert member["birthday"] == {"month": 7, "day": 4}
    assert (member["total_spend"], member["currency"]) == ("98.55", "CNY")
    assert member["tier"] == {"key": "occasional", "name": "回头客"}
    assert member["marketing"]["consent"] is None
    assert member["enrolled_at"] == NOW.isoformat()
    assert [p["amount"] for p in parsed["payments"]] == ["86.50", "12.05"]
    assert [p["points"] for p in parsed["points"]] == [86, 12]
    assert len(parsed["visits"]) == 2
    assert parsed["telegram"]["telegram_id"] == DANA
    assert member["taste"] == ["spicy"]
    assert [(f["kind"], f["text"]) for f in parsed["feedback"]] == [
        ("suggestion", "More vegetarian dishes, please")
    ]


async def test_erasure_keeps_the_accounts_and_forgets_the_person(
    factory: async_sessionmaker[AsyncSession], policy: Policy
) -> None:
    member_id = await pay(factory, policy, DANA, "86.50")
    other_id = await pay(factory, policy, SAM, "10")
    async with factory() as session, session.begin():
        store = await _store(session)
        await member_account.set_birthday(session, telegram_id=DANA, month=3, day=14, policy=policy)
        (table,) = await queries.ensure_tables(session, store_id=store.id, numbers=[5], now=NOW)
        assert table.id is not None
        for person in (DANA, SAM):
            await queries.add_check_in(
                session, telegram_id=person, store_id=store.id, table_id=table.id, now=NOW
            )
            session.add(
                Bill(
                    telegram_id=person,
                    store_id=store.id,
                    amount=Decimal(5),
                    currency="CNY",
                    created_at=NOW,
                    expires_at=NOW + timedelta(minutes=30),
                )
            )
            session.add(
                FraudEvent(at=NOW, kind="daily_limit", store_id=store.id, telegram_id=person)
            )
        await member_account.toggle_taste(session, telegram_id=DANA, tag="seafood", policy=policy)
        session.add(
            Feedback(
                member_id=member_id, kind="complaint", rating=1, text="Cold soup", created_at=NOW
            )
        )
        for person, status in ((DANA, "sent"), (DANA, "pending"), (SAM, "pending")):
            session.add(
                OutboxMessage(
                    telegram_id=person,
                    dedupe_key=f"t:{person}:{status}",
                    text=f"Happy birthday, {person}!",
                    status=status,
                    next_attempt_at=NOW,
                    created_at=NOW,
                )
            )

    async with factory() as session, session.begin():
        erasure = await member_account.erase(
            session, telegram_id=DANA, now=NOW + timedelta(hours=1)
        )
    assert erasure == member_account.Erasure(
        member_id=member_id, check_ins_deleted=1, bills_deleted=1, fraud_events_unlinked=1
    )

    async with factory() as session:
        member = await session.get(Member, member_id)
        assert member is not None
        assert (member.display_name, member.birthday, member.telegram_user_id) == ("", None, None)
        assert member.marketing_consent is None
        assert member.consent_at is None
        assert member.erased_at == NOW + timedelta(hours=1)
        assert member.points_balance == 86  # the accounts stay as they were
        assert member.taste_tags == ""
        feedback = (await session.execute(select(Feedback))).scalars().all()
        assert [(f.rating, f.text) for f in feedback] == [(1, "")]  # the rating stays, anonymous
        messages = (await session.execute(select(OutboxMessage))).scalars().all()
        assert sorted((m.telegram_id, m.status, m.text) for m in messages) == sorted(
            [
                (0, "sent", ""),
                (0, "cancelled", ""),
                (SAM, "pending", f"Happy birthday, {SAM}!"),
            ]
        )
        assert await member_account.find_member(session, telegram_id=DANA) is None
        audit = (await session.execute(select(AuditLog))).scalars().all()
    assert [(a.action, a.actor_telegram_id) for a in audit] == [("member.erase", None)]
    assert str(DANA) not in audit[0].detail

    assert await count(factory, TelegramUser, TelegramUser.telegram_id == DANA) == 0
    assert await count(factory, CheckIn, CheckIn.telegram_id == DANA) == 0
    assert await count(factory, Bill, Bill.telegram_id == DANA) == 0
    assert await count(factory, FraudEvent, FraudEvent.telegram_id == DANA) == 0
    assert await count(factory, Payment, Payment.member_id == member_id) == 1
    assert await count(factory, Visit, Visit.member_id == member_id) == 1
    assert await count(factory, PointsEntry, PointsEntry.member_id == member_id) == 1
    # the other diner is untouched
    assert await count(factory, CheckIn, CheckIn.telegram_id == SAM) == 1
    assert await count(factory, Bill, Bill.telegram_id == SAM) == 1
    assert await count(factory, FraudEvent, FraudEvent.telegram_id == SAM) == 1
    async with factory() as session:
        other = await member_account.find_member(session, telegram_id=SAM)
    assert other is not None
    assert other.id == other_id

    # asked again: nothing left to erase, nothing breaks
    async with factory() as session, session.begin():
        again = await member_account.erase(session, telegram_id=DANA, now=NOW + timedelta(hours=2))
    assert again.member_id is None

    # paying again makes a new member
    new_id = await pay(factory, policy, DANA, "30", at=NOW + timedelta(days=1))
    assert new_id not in (member_id, other_id)
