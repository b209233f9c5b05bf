"""Reservations in the domain: the store's calendar (its time zone), one request per key, one
decision per request, the managers' store scope, and the morning reminder's moment."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty import privacy, reservations
from loyalty.channels import Channel
from loyalty.errors import NotAllowed
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment
from loyalty.policy import Policy
from loyalty.reservations import ReservationProblem
from tests.loyalty.conftest import OPENED

DANA = 5_000_001


async def member(factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy) -> int:
    async with factory() as session, session.begin():
        outcome = await record_payment(
            session,
            source=PaymentSource.POS,
            external_id="first",
            store=store,
            amount=Decimal(88),
            currency="CNY",
            payer=Payer(telegram_id=DANA, first_name="Dana", channel=Channel.CHAT),
            policy=policy,
            now=OPENED,
        )
    return outcome.member_id


def test_the_calendar_is_the_store_s_and_past_times_are_not_offered(policy: Policy) -> None:
    # 20:45 UTC on 23 November is 04:45 on the 24th in Shanghai: the 24th is the first day
    late = OPENED.replace(hour=20, minute=45)
    days = reservations.bookable_days(policy, now=late, timezone="Asia/Shanghai")
    assert days[0] == date(2026, 11, 24)
    assert len(days) == policy.reservations.days_ahead
    # 12:00 in Shanghai: lunch at 12:00 has begun, 12:30 is still ahead
    times = reservations.bookable_times(
        policy, day=date(2026, 11, 23), now=OPENED, timezone="Asia/Shanghai"
    )
    assert times[0] == time(12, 30)
    # after the last time of the day, today is not offered at all
    evening = OPENED.replace(hour=13)  # 21:00 in Shanghai
    assert reservations.bookable_days(policy, now=evening, timezone="Asia/Shanghai")[0] == date(
        2026, 11, 24
    )


async def test_one_request_per_key_one_decision_per_request(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    member_id = await member(factory, store, policy)
    ask = {
        "key": "k" * 16,
        "telegram_id": DANA,
        "day": date(2026, 11, 25),
        "at": time(19, 0),
        "party": 4,
        "note": "  window   seat ",
        "via": "command",
        "policy": policy,
        "now": OPENED,
    }
    async with factory() as session, session.begin():
        first, created = await reservations.request(session, **ask)  # type: ignore[arg-type]
        again, created_again = await reservations.request(session, **ask)  # type: ignore[arg-type]
    assert (created, created_again) == (True, False)
    assert first.id == again.id
    assert (first.member_id, first.note, first.status) == (member_id, "window seat", "requested")
    assert first.local.hour == 19  # stored in UTC, 11:00, shown in the store's time

    async with factory() as session, session.begin():
        with pytest.raises(NotAllowed):  # a manager of another store
            await reservations.decide(
                session,
                reservation_id=first.id,
                action="confirm",
                by=1,
                stores_managed={store.id + 1},
                now=OPENED,
            )
        done = await reservations.decide(
            session,
            reservation_id=first.id,
            action="confirm",
            by=1,
            stores_managed=None,
            now=OPENED,
        )
        late = await reservations.decide(
            session,
            reservation_id=first.id,
            action="decline",
            by=2,
            stores_managed=None,
            now=OPENED,
        )
    assert (done.changed, late.changed, late.reservation.status) == (True, False, "confirmed")

    # the morning of the 25th in Shanghai (09:00 is 01:00 UTC): due once
    before = OPENED.replace(day=25, hour=0, minute=30)
    morning = OPENED.replace(day=25, hour=1, minute=5)
    async with factory() as session, session.begin():
        assert await reservations.due_reminders(session, policy=policy, now=before) == []
        due = await reservations.due_reminders(session, policy=policy, now=morning)
        assert [r.id for r in due] == [first.id]
        assert await reservations.mark_reminded(session, reservation_id=first.id, now=morning)
        assert not await reservations.mark_reminded(session, reservation_id=first.id, now=morning)
        assert await reservations.due_reminders(session, policy=policy, now=morning) == []


@pytest.mark.parametrize(
    ("day", "at", "party", "reason"),
    [
        (date(2026, 11, 22), time(19, 0), 2, "day"),  # yesterday
        (date(2026, 11, 23) + timedelta(days=30), time(19, 0), 2, "day"),  # too far ahead
        (date(2026, 11, 23), time(12, 0), 2, "time"),  # begun
        (date(2026, 11, 24), time(15, 0), 2, "time"),  # not a time the policy offers
        (date(2026, 11, 24), time(19, 0), 13, "party"),
        (date(2026, 11, 24), time(19, 0), 0, "party"),
    ],
)
async def test_a_request_out_of_bounds_writes_nothing(
    factory: async_sessionmaker[AsyncSession],
    store: StoreRef,
    policy: Policy,
    day: date,
    at: time,
    party: int,
    reason: str,
) -> None:
    await member(factory, store, policy)
    async with factory() as session, session.begin():
        with pytest.raises(ReservationProblem) as problem:
            await reservations.request(
                session,
                key="x" * 16,
                telegram_id=DANA,
                day=day,
                at=at,
                party=party,
                note="",
                via="command",
                policy=policy,
                now=OPENED,
            )
        assert problem.value.reason == reason
        assert await reservations.upcoming(session, stores_managed=None, now=OPENED) == []


async def test_not_a_member(factory: async_sessionmaker[AsyncSession], policy: Policy) -> None:
    async with factory() as session:
        with pytest.raises(ReservationProblem) as problem:
            await reservations.store_of_member(session, telegram_id=DANA)
    assert problem.value.reason == "not_member"


async def test_mydata_lists_the_tables_and_erasure_blanks_the_notes(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    member_id = await member(factory, store, policy)
    async with factory() as session, session.begin():
        await reservations.request(
            session,
            key="m" * 16,
            telegram_id=DANA,
            day=date(2026, 11, 25),
            at=time(19, 0),
            party=2,
            note="anniversary, near the window",
            via="command",
            policy=policy,
            now=OPENED,
        )
        shown = await privacy.history(
            session, member_id=member_id, telegram_id=DANA, currency="CNY"
        )
    assert [(r["party"], r["note"], r["status"]) for r in shown["reservations"]] == [
        (2, "anniversary, near the window", "requested")
    ]
    async with factory() as session, session.begin():
        await privacy.forget_copies(session, member_id=member_id, telegram_id=DANA)
        shown = await privacy.history(
            session, member_id=member_id, telegram_id=DANA, currency="CNY"
        )
        assert await reservations.upcoming(session, stores_managed=None, now=OPENED) == []
    assert [(r["note"], r["status"]) for r in shown["reservations"]] == [("", "cancelled")]


async def ask_for(
    factory: async_sessionmaker[AsyncSession], policy: Policy, key: str, day: date, at: time
) -> int:
    async with factory() as session, session.begin():
        info, _ = await reservations.request(
            session,
            key=key * 16,
            telegram_id=DANA,
            day=day,
            at=at,
            party=3,
            note="",
            via="command",
            policy=policy,
            now=OPENED,
        )
    return info.id


async def test_another_time_proposed_is_taken_once_or_turned_down(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    await member(factory, store, policy)
    asked = await ask_for(factory, policy, "p", date(2026, 11, 25), time(19, 0))
    declined = await ask_for(factory, policy, "q", date(2026, 11, 26), time(19, 0))
    propose = {"by": 1, "stores_managed": None, "now": OPENED}
    async with factory() as session, session.begin():
        with pytest.raises(NotAllowed):
            await reservations.propose(
                session, reservation_id=asked, at=time(20, 30), by=1,
                stores_managed={store.id + 1}, now=OPENED,
            )  # fmt: skip
        with pytest.raises(ReservationProblem) as past:  # 20:30 on the 25th, seen a day later
            await reservations.propose(
                session, reservation_id=asked, at=time(20, 30), by=1, stores_managed=None,
                now=OPENED.replace(day=26),
            )  # fmt: skip
        assert past.value.reason == "time"
        offered = await reservations.propose(
            session,
            reservation_id=asked,
            at=time(20, 30),
            **propose,  # type: ignore[arg-type]
        )
        twice = await reservations.propose(
            session,
            reservation_id=asked,
            at=time(21, 0),
            **propose,  # type: ignore[arg-type]
        )
        late = await reservations.decide(
            session,
            reservation_id=asked,
            action="confirm",
            **propose,  # type: ignore[arg-type]
        )
    assert (offered.changed, twice.changed, late.changed) == (True, False, False)
    assert offered.reservation.status == "proposed"
    assert offered.reservation.proposed_at is not None
    assert offered.reservation.proposed_at.astimezone(ZoneInfo("Asia/Shanghai")).time() == time(
        20, 30
    )

    taken = OPENED + timedelta(hours=1)
    async with factory() as session, session.begin():
        with pytest.raises(ReservationProblem) as stranger:
            await reservations.answer_proposal(
                session, reservation_id=asked, telegram_id=DANA + 1, accept=True, now=taken
            )
        assert stranger.value.reason == "not_yours"
        yes = await reservations.answer_proposal(
            session, reservation_id=asked, telegram_id=DANA, accept=True, now=taken
        )
        again = await reservations.answer_proposal(
            session, reservation_id=asked, telegram_id=DANA, accept=True, now=taken
        )
        no_after_yes = await reservations.answer_proposal(
            session, reservation_id=asked, telegram_id=DANA, accept=False, now=taken
        )
    assert (yes.changed, again.changed, no_after_yes.changed) == (True, False, False)
    assert yes.reservation.status == "confirmed"
    assert yes.reservation.local.replace(tzinfo=None) == datetime(2026, 11, 25, 20, 30)

    async with factory() as session, session.begin():
        await reservations.propose(
            session,
            reservation_id=declined,
            at=time(20, 0),
            **propose,  # type: ignore[arg-type]
        )
        no = await reservations.answer_proposal(
            session, reservation_id=declined, telegram_id=DANA, accept=False, now=taken
        )
        assert await reservations.confirmed_before(
            session, reservation_id=asked, moment=taken + timedelta(seconds=1)
        )
        assert not await reservations.confirmed_before(session, reservation_id=asked, moment=taken)
        listed = await reservations.upcoming(session, stores_managed=None, now=taken)
        elsewhere = await reservations.upcoming(session, stores_managed={store.id + 1}, now=taken)
        mine = await reservations.upcoming(session, stores_managed={store.id}, now=taken)
        with pytest.raises(ReservationProblem) as unknown:
            await reservations.get(session, reservation_id=declined + 100)
    assert (no.changed, no.reservation.status) == (True, "cancelled")
    assert [r.id for r in listed] == [asked]  # the cancelled one is not a table to keep
    assert [r.id for r in mine] == [asked]
    assert elsewhere == []
    assert unknown.value.reason == "unknown"


async def test_the_list_holds_today_and_later_earliest_first(
    factory: async_sessionmaker[AsyncSession], store: StoreRef, policy: Policy
) -> None:
    await member(factory, store, policy)
    later = await ask_for(factory, policy, "l", date(2026, 11, 26), time(19, 0))
    today = await ask_for(factory, policy, "t", date(2026, 11, 23), time(19, 0))
    tomorrow = await ask_for(factory, policy, "m", date(2026, 11, 24), time(12, 30))
    async with factory() as session:
        listed = await reservations.upcoming(session, stores_managed=None, now=OPENED)
        # 23:30 in Shanghai on the 23rd: today's table has passed but the day has not
        evening = await reservations.upcoming(
            session, stores_managed=None, now=OPENED.replace(hour=15, minute=30)
        )
        next_day = await reservations.upcoming(
            session, stores_managed=None, now=OPENED.replace(day=24)
        )
    assert [r.id for r in listed] == [today, tomorrow, later]
    assert [r.id for r in evening] == [today, tomorrow, later]
    assert [r.id for r in next_day] == [tomorrow, later]
