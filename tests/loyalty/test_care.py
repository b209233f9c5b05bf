"""The care desk's rules on a real database: who is listed and why (seed 002's falling spend,
seed 003's overdue regular and unanswered complaint, status remembered through a lapse), that a
member is on the list once, scoping to the manager's stores, Later, and the note's consent and
quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from loyalty import care, feedback, member_account, roles
from loyalty.care import CareProblem
from loyalty.channels import Channel
from loyalty.outbox import Recipient
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment
from loyalty.policy import Policy
from models import queries
from models.tables import CareEntry, Feedback, Member, OutboxMessage, Role, TierChange, Visit

NOON = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday, 12:00 in Shanghai
DAY = timedelta(days=1)
OWNER, MANAGER, OTHER_MANAGER = 1, 2, 3


class World:
    def __init__(
        self, factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
    ) -> None:
        self.factory, self.store, self.policy = factory, store, policy
        self.refs = 0

    async def pay(self, who: int, amount: str, at: datetime) -> int:
        self.refs += 1
        async with self.factory() as session, session.begin():
            outcome = await record_payment(
                session,
                source=PaymentSource.POS,
                external_id=f"r{self.refs}",
                store=self.store,
                amount=Decimal(amount),
                currency="CNY",
                payer=Payer(telegram_id=who, first_name=f"p{who}", channel=Channel.CHAT),
                policy=self.policy,
                now=at,
            )
        return outcome.member_id

    async def detect(self, now: datetime) -> dict[str, int]:
        async with self.factory() as session, session.begin():
            found = await care.detect(session, policy=self.policy, now=now, stores=None)
        return {k: v for k, v in found.items() if v}

    async def listed(self, now: datetime) -> list[tuple[str, int]]:
        async with self.factory() as session, session.begin():
            listing = await care.open_entries(session, policy=self.policy, now=now, stores=None)
        return [(item.reason, item.member_id) for item in listing.items]


@pytest.fixture
async def world(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> World:
    async with factory() as session, session.begin():
        await roles.grant(
            session,
            telegram_id=MANAGER,
            store_id=store.id,
            role=Role.MANAGER,
            display_name="Mia",
            granted_by=OWNER,
            now=NOON,
        )
        other = await queries.add_store(
            session, name="Other Bar", timezone="UTC", currency="CNY", now=NOON
        )
        assert other.id is not None
        await roles.grant(
            session,
            telegram_id=OTHER_MANAGER,
            store_id=other.id,
            role=Role.MANAGER,
            display_name="Otto",
            granted_by=OWNER,
            now=NOON,
        )
    return World(factory, store, policy)


async def test_falling_spend_per_bill_is_seed_002s_churn_warning(world: World) -> None:
    """Three bills of 60 then three of 40 (a third less): listed; a sixth less is not."""
    day = NOON
    for amount in ("60", "60", "60", "40", "40", "40"):
        falling = await world.pay(10, amount, day)
        day += 3 * DAY
    day = NOON
    for amount in ("60", "60", "60", "50", "50", "50"):
        steady = await world.pay(11, amount, day + timedelta(hours=1))
        day += 3 * DAY
    last = day - 3 * DAY + timedelta(hours=2)
    assert await world.detect(last) == {"spend": 1}
    async with world.factory() as session, session.begin():
        listing = await care.open_entries(session, policy=world.policy, now=last, stores=None)
    (item,) = listing.items
    assert (item.member_id, item.facts) == (falling, {"recent": "40.00", "earlier": "60.00"})
    assert steady != falling
    # found again the same day and the next: nothing new (once, and at most once a quarter)
    assert await world.detect(last) == {}
    assert await world.detect(last + DAY) == {}


async def test_an_unanswered_low_rating_is_listed_until_handled_anywhere(world: World) -> None:
    member_id = await world.pay(20, "80", NOON)
    async with world.factory() as session, session.begin():
        visit = await session.scalar(select(col(Visit.id)).where(col(Visit.member_id) == member_id))
        assert visit is not None
        rated = await feedback.rate(
            session, visit_id=visit, telegram_id=20, stars=1, low_rating=2, now=NOON
        )
        await feedback.complain(session, visit_id=visit, telegram_id=20, text="Cold soup", now=NOON)
    assert await world.detect(NOON + DAY) == {"feedback": 1}
    async with world.factory() as session, session.begin():
        listing = await care.open_entries(session, policy=world.policy, now=NOON + DAY, stores=None)
    (item,) = listing.items
    assert (item.reason, item.last_rating, item.complaint) == ("feedback", 1, "Cold soup")

    # handled in /feedback: the rating alone leaves the complaint unanswered; then both
    for item_id, still in (
        (rated.feedback_id, [("feedback", member_id)]),
        (rated.feedback_id + 1, []),
    ):
        async with world.factory() as session, session.begin():
            await feedback.mark_handled(
                session, feedback_id=item_id, by_telegram_id=OWNER, role=Role.OWNER, now=NOON
            )
        assert await world.listed(NOON + DAY) == still
    async with world.factory() as session:
        entry = (await session.execute(select(CareEntry))).scalar_one()
        assert (entry.status, entry.action) == ("closed", "resolved")


async def test_done_on_a_complaint_handles_it_in_the_inbox_too(world: World) -> None:
    member_id = await world.pay(21, "80", NOON)
    async with world.factory() as session, session.begin():
        visit = await session.scalar(select(col(Visit.id)).where(col(Visit.member_id) == member_id))
        assert visit is not None
        await feedback.rate(
            session, visit_id=visit, telegram_id=21, stars=2, low_rating=2, now=NOON
        )
    await world.detect(NOON + DAY)
    async with world.factory() as session:
        entry_id = int((await session.execute(select(col(CareEntry.id)))).scalar_one() or 0)
    # a manager of another store cannot touch it
    async with world.factory() as session, session.begin():
        with pytest.raises(CareProblem) as refused:
            await care.done(
                session, entry_id=entry_id, telegram_id=OTHER_MANAGER, role=Role.MANAGER, now=NOON
            )
        assert refused.value.reason == "unknown"
    async with world.factory() as session, session.begin():
        await care.done(
            session, entry_id=entry_id, telegram_id=MANAGER, role=Role.MANAGER, now=NOON + DAY
        )
    async with world.factory() as session, session.begin():
        with pytest.raises(CareProblem) as twice:
            await care.done(
                session, entry_id=entry_id, telegram_id=OWNER, role=Role.OWNER, now=NOON + DAY
            )
        assert twice.value.reason == "already"
    async with world.factory() as session:
        rating = (await session.execute(select(Feedback))).scalar_one()
        assert rating.handled_by == MANAGER
        box = await feedback.inbox(session, telegram_id=OWNER, role=Role.OWNER, now=NOON + DAY)
        assert box.open_count == 0


async def test_a_regular_who_lost_the_tier_during_the_absence_is_still_listed(
    world: World,
) -> None:
    """Status is remembered through a lapse: the nightly refresh took "regular" away while he
    stayed away; he is listed as the regular he was."""
    for week in range(5):
        member_id = await world.pay(30, "45", NOON + week * 21 * DAY)
    last = NOON + 84 * DAY
    async with world.factory() as session, session.begin():
        member = await session.get(Member, member_id)
        assert member is not None
        assert member.tier == "regular"
        rhythm = member.expected_interval_days
        assert rhythm is not None
        member.tier = "occasional"
        session.add(
            TierChange(
                member_id=member_id,
                from_tier="regular",
                to_tier="occasional",
                direction="down",
                reason="refresh",
                at=last + 20 * DAY,
            )
        )
    due = last + timedelta(days=float(rhythm) + world.policy.care.overdue_margin_days)
    assert await world.detect(due - timedelta(hours=1)) == {}
    assert await world.detect(due + timedelta(hours=1)) == {"overdue": 1}
    # the same absence is one entry, however often it is found
    assert await world.detect(due + 2 * DAY) == {}


def _render(person: Recipient, note: str) -> str:
    return f"{person.store_name}: {note}"


async def test_a_note_respects_consent_and_quiet_hours(world: World) -> None:
    said_no = await world.pay(40, "45", NOON)
    quiet = await world.pay(41, "45", NOON)
    async with world.factory() as session, session.begin():
        await session.execute(
            update(Member).where(col(Member.id) == said_no).values(marketing_consent=False)
        )
        for member_id in (said_no, quiet):
            session.add(
                CareEntry(
                    key=f"rising:{member_id}:x",
                    store_id=world.store.id,
                    member_id=member_id,
                    reason="rising",
                    created_at=NOON,
                    due_at=NOON,
                )
            )
    async with world.factory() as session:
        found = await session.execute(select(col(CareEntry.member_id), col(CareEntry.id)))
        ids = {member: int(entry or 0) for member, entry in found.tuples().all()}
    late = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # 22:30 in Shanghai: quiet hours
    async with world.factory() as session, session.begin():
        with pytest.raises(CareProblem) as refused:
            await care.send_note(
                session,
                entry_id=ids[said_no],
                telegram_id=MANAGER,
                role=Role.MANAGER,
                note="Hello",
                policy=world.policy,
                now=late,
                render=_render,
            )
        assert refused.value.reason == "no_consent"
        sent = await care.send_note(
            session,
            entry_id=ids[quiet],
            telegram_id=MANAGER,
            role=Role.MANAGER,
            note="  We miss you  ",
            policy=world.policy,
            now=late,
            render=_render,
        )
    assert sent.deferred
    assert sent.at == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    async with world.factory() as session:
        (row,) = (await session.execute(select(OutboxMessage))).scalars().all()
        assert (row.text, row.marketing, row.next_attempt_at) == (
            "Noodle Bar: We miss you",
            False,
            sent.at,
        )


async def test_later_comes_back_on_the_morning_list_of_the_store_s_day(world: World) -> None:
    member_id = await world.pay(50, "45", NOON)
    async with world.factory() as session, session.begin():
        entry = CareEntry(
            key="rising:x",
            store_id=world.store.id,
            member_id=member_id,
            reason="spend",
            created_at=NOON,
            due_at=NOON,
        )
        session.add(entry)
        await session.flush()
        assert entry.id is not None
        until = await care.later(
            session,
            entry_id=entry.id,
            telegram_id=MANAGER,
            role=Role.MANAGER,
            policy=world.policy,
            now=NOON,
        )
    assert until == datetime(2026, 11, 23, 16, 0, tzinfo=UTC)  # 00:00 on the 24th in Shanghai
    assert await world.listed(until - timedelta(minutes=1)) == []
    assert await world.listed(until + timedelta(hours=10)) == [("spend", member_id)]


async def test_erased_members_leave_the_list(world: World) -> None:
    member_id = await world.pay(60, "45", NOON)
    async with world.factory() as session, session.begin():
        session.add(
            CareEntry(
                key="spend:e",
                store_id=world.store.id,
                member_id=member_id,
                reason="spend",
                created_at=NOON,
                due_at=NOON,
            )
        )
    assert await world.listed(NOON) == [("spend", member_id)]
    async with world.factory() as session, session.begin():
        await member_account.erase(session, telegram_id=60, now=NOON)
    assert await world.listed(NOON) == []


async def test_a_manager_of_no_store_has_no_list(world: World) -> None:
    async with world.factory() as session, session.begin():
        with pytest.raises(CareProblem):
            await care.todays_list(
                session, telegram_id=99, role=Role.MANAGER, policy=world.policy, now=NOON
            )


async def test_a_rising_member_is_listed_once_per_turn(world: World) -> None:
    member_id = await world.pay(70, "45", NOON)
    turned = NOON + timedelta(hours=1)
    async with world.factory() as session, session.begin():
        await session.execute(
            update(Member)
            .where(col(Member.id) == member_id)
            .values(turn="rising", turn_at=turned, lapsed_due_at=NOON + 30 * DAY)
        )
    assert await world.detect(NOON + DAY) == {"rising": 1}
    assert await world.listed(NOON + DAY) == [("rising", member_id)]
    assert await world.detect(NOON + 2 * DAY) == {}  # the same turn
    # the turn is over (a longer gap): the thank-you is no longer due
    async with world.factory() as session, session.begin():
        await session.execute(update(Member).where(col(Member.id) == member_id).values(turn=""))
    assert await world.listed(NOON + 2 * DAY) == []


async def test_the_members_the_win_back_gave_up_on_are_listed_once(world: World) -> None:
    """Two coupons in a row unanswered (ladder.max_unanswered_offers): care only from the
    win-back, and one line on one care list."""
    member_id = await world.pay(80, "45", NOON)
    assert world.policy.ladder.max_unanswered_offers == 2
    async with world.factory() as session, session.begin():
        await session.execute(
            update(Member).where(col(Member.id) == member_id).values(unanswered_offers=2)
        )
    later = NOON + 40 * DAY
    assert await world.detect(later) == {"gave_up": 1}
    async with world.factory() as session, session.begin():
        listing = await care.open_entries(session, policy=world.policy, now=later, stores=None)
        assert [(i.reason, i.member_id) for i in listing.items] == [("gave_up", member_id)]
        await care.mark_listed(session, entry_ids=[listing.items[0].entry_id], now=later)
    # listed once: not on the next lists, not found again for the same absence
    assert await world.detect(later + DAY) == {}
    assert await world.listed(later + DAY) == []
    async with world.factory() as session:
        entry = (await session.execute(select(CareEntry))).scalar_one()
        assert entry.status == "shown"
    # its buttons still work: Done
    async with world.factory() as session, session.begin():
        assert entry.id is not None
        await care.done(
            session, entry_id=entry.id, telegram_id=MANAGER, role=Role.MANAGER, now=later + DAY
        )


def test_a_survey_may_be_asked_again_the_morning_its_period_ends_whatever_the_minute() -> None:
    """Asked on a morning at 10:05:00.9; the job of the morning 90 days later runs at 10:05:00.1:
    the period is over (whole days), though 90×24 hours have not quite passed. The evening
    before, it is not."""
    asked = datetime(2027, 1, 4, 10, 5, 0, 900_000, tzinfo=UTC)
    later = datetime(2027, 4, 4, 10, 5, 0, 100_000, tzinfo=UTC)
    assert (later - asked).days == 89  # by the stopwatch, not yet 90 days
    assert asked < care.asked_recently_since(later, every_days=90)
    evening_before = datetime(2027, 4, 3, 23, 59, tzinfo=UTC)
    assert asked >= care.asked_recently_since(evening_before, every_days=90)
