"""Reserving a table (issue 17, part 6; seed 001: "ask whether they want a table kept"): a member
picks a day, a time, the party and a note (`/reserve`, or a treatment's button); the store's
managers confirm, propose another time or decline; the member is told, and reminded on the
morning of the day (``reservations.remind_hour``, the store's time zone).

Every step that a double tap or a stale button could repeat writes once:

* a request carries a one-time key (made when the member starts): the same key again finds the
  request already made (`request` answers it with ``created=False``);
* each decision is one conditional update from the status it expects (requested → confirmed,
  declined or proposed; proposed → confirmed or cancelled): a second press, or a second
  manager's, finds the status moved and changes nothing (``changed=False``);
* the morning reminder is marked with one conditional update as well (`mark_reminded`).

Days and times are the store's local ones; `at` is stored in UTC.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loyalty import stores
from loyalty.errors import NotAllowed, Problem
from loyalty.policy import Policy
from models import queries
from models.tables import Member, Reservation, TelegramUser

REQUESTED, PROPOSED, CONFIRMED = "requested", "proposed", "confirmed"
DECLINED, CANCELLED = "declined", "cancelled"
OPEN: tuple[str, ...] = (REQUESTED, PROPOSED, CONFIRMED)
NOTE_CHARS = 200


class ReservationProblem(Problem):
    """not_member, day (not a day that can be booked), time, party, unknown, not_yours."""


@dataclass(frozen=True, slots=True)
class ReservationInfo:
    id: int
    member_id: int
    telegram_id: int
    display_name: str
    tier: str
    store_id: int
    store_name: str
    timezone: str
    at: datetime
    party: int
    note: str
    status: str
    proposed_at: datetime | None
    via: str

    @property
    def local(self) -> datetime:
        return self.at.astimezone(ZoneInfo(self.timezone))


@dataclass(frozen=True, slots=True)
class Outcome:
    reservation: ReservationInfo
    changed: bool
    """False: a double tap, a stale button or another manager was first; nothing written."""


def local_moment(day: date, at: time, timezone: str) -> datetime:
    """A local day and time of the store, in UTC."""
    return datetime.combine(day, at, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def bookable_days(policy: Policy, *, now: datetime, timezone: str) -> list[date]:
    """Today (if a time is still ahead) and the following days, in the store's calendar."""
    today = now.astimezone(ZoneInfo(timezone)).date()
    days = [today + timedelta(days=n) for n in range(policy.reservations.days_ahead)]
    return [d for d in days if bookable_times(policy, day=d, now=now, timezone=timezone)]


def bookable_times(policy: Policy, *, day: date, now: datetime, timezone: str) -> list[time]:
    """The policy's times on `day` still ahead of `now`."""
    return [t for t in policy.reservations.times if local_moment(day, t, timezone) > now]


async def store_of_member(session: AsyncSession, *, telegram_id: int) -> stores.StoreInfo:
    """The store a member reserves at (their home store); ReservationProblem if not a member."""
    member = await queries.get_member_by_telegram_id(session, telegram_id=telegram_id)
    if member is None or member.erased_at is not None:
        raise ReservationProblem("not_member")
    store = await stores.store_info(session, store_id=member.store_id)
    assert store is not None
    return store


async def request(
    session: AsyncSession,
    *,
    key: str,
    telegram_id: int,
    day: date,
    at: time,
    party: int,
    note: str,
    via: str,
    policy: Policy,
    now: datetime,
) -> tuple[ReservationInfo, bool]:
    """A member asks for a table; the request, and whether this call made it (False: the key
    was used before — a double tap). Raises ReservationProblem, writing nothing."""
    member = await queries.get_member_by_telegram_id(session, telegram_id=telegram_id)
    if member is None or member.id is None or member.erased_at is not None:
        raise ReservationProblem("not_member")
    found = await _by_key(session, key)
    if found is not None:
        return found, False
    store = await stores.store_info(session, store_id=member.store_id)
    assert store is not None
    if day not in bookable_days(policy, now=now, timezone=store.timezone):
        raise ReservationProblem("day")
    if at not in bookable_times(policy, day=day, now=now, timezone=store.timezone):
        raise ReservationProblem("time")
    if not 1 <= party <= policy.reservations.max_party:
        raise ReservationProblem("party")
    row = Reservation(
        key=key,
        member_id=member.id,
        store_id=store.id,
        at=local_moment(day, at, store.timezone),
        party=party,
        note=" ".join(note.split())[:NOTE_CHARS],
        via=via,
        status=REQUESTED,
        created_at=now,
    )
    if not await queries.insert_unless_exists(session, row, unique=("key",)):
        again = await _by_key(session, key)  # the same tap, handled concurrently
        assert again is not None
        return again, False
    assert row.id is not None
    return await get(session, reservation_id=row.id), True


async def decide(
    session: AsyncSession,
    *,
    reservation_id: int,
    action: Literal["confirm", "decline"],
    by: int,
    stores_managed: Collection[int] | None,
    now: datetime,
) -> Outcome:
    """A manager confirms or declines a request (`stores_managed`: None for an owner)."""
    await _check_scope(session, reservation_id, stores_managed)
    status = CONFIRMED if action == "confirm" else DECLINED
    return await _move(
        session, reservation_id, frm=REQUESTED, to=status, values={"decided_by": by}, now=now
    )


async def propose(
    session: AsyncSession,
    *,
    reservation_id: int,
    at: time,
    by: int,
    stores_managed: Collection[int] | None,
    now: datetime,
) -> Outcome:
    """A manager proposes another time on the same day; the member accepts or declines it."""
    current = await _check_scope(session, reservation_id, stores_managed)
    proposed = local_moment(current.local.date(), at, current.timezone)
    if proposed <= now:
        raise ReservationProblem("time")
    return await _move(
        session,
        reservation_id,
        frm=REQUESTED,
        to=PROPOSED,
        values={"decided_by": by, "proposed_at": proposed},
        now=now,
    )


async def answer_proposal(
    session: AsyncSession, *, reservation_id: int, telegram_id: int, accept: bool, now: datetime
) -> Outcome:
    """The member takes the time proposed (confirmed at it) or not (cancelled)."""
    current = await get(session, reservation_id=reservation_id)
    if current.telegram_id != telegram_id:
        raise ReservationProblem("not_yours")
    if not accept:
        return await _move(session, reservation_id, frm=PROPOSED, to=CANCELLED, values={}, now=now)
    if current.proposed_at is None:
        return Outcome(current, changed=False)
    return await _move(
        session,
        reservation_id,
        frm=PROPOSED,
        to=CONFIRMED,
        values={"at": current.proposed_at},
        now=now,
    )


async def upcoming(
    session: AsyncSession, *, stores_managed: Collection[int] | None, now: datetime
) -> list[ReservationInfo]:
    """Today's (in each store's calendar) and later requests, proposals and confirmed tables,
    earliest first."""
    query = (
        select(col(Reservation.id))
        .where(col(Reservation.status).in_(OPEN), col(Reservation.at) >= now - timedelta(days=1))
        .order_by(col(Reservation.at), col(Reservation.id))
    )
    if stores_managed is not None:
        query = query.where(col(Reservation.store_id).in_(list(stores_managed)))
    ids = [rid for rid in await session.scalars(query) if rid is not None]
    found = [await get(session, reservation_id=rid) for rid in ids]
    return [r for r in found if r.local.date() >= now.astimezone(ZoneInfo(r.timezone)).date()]


async def due_reminders(
    session: AsyncSession, *, policy: Policy, now: datetime
) -> list[ReservationInfo]:
    """Confirmed tables of today, from the morning's hour on (store's time), not yet recalled."""
    ids = await session.scalars(
        select(col(Reservation.id)).where(
            col(Reservation.status) == CONFIRMED,
            col(Reservation.reminded_at).is_(None),
            col(Reservation.at) > now,
            col(Reservation.at) <= now + timedelta(days=1),
        )
    )
    due = []
    for rid in [rid for rid in ids if rid is not None]:
        found = await get(session, reservation_id=rid)
        local_now = now.astimezone(ZoneInfo(found.timezone))
        if found.local.date() == local_now.date() and (
            local_now.hour >= policy.reservations.remind_hour
        ):
            due.append(found)
    return due


async def mark_reminded(session: AsyncSession, *, reservation_id: int, now: datetime) -> bool:
    """True for the one caller that marks it (the reminder is queued once)."""
    done = await session.execute(
        update(Reservation)
        .where(col(Reservation.id) == reservation_id, col(Reservation.reminded_at).is_(None))
        .values(reminded_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


async def confirmed_before(session: AsyncSession, *, reservation_id: int, moment: datetime) -> bool:
    """Whether the table was confirmed before `moment` (a table confirmed after the morning's
    reminder hour was just told to the member: no reminder needed)."""
    decided = await session.scalar(
        select(col(Reservation.decided_at)).where(col(Reservation.id) == reservation_id)
    )
    return decided is not None and decided < moment


async def get(session: AsyncSession, *, reservation_id: int) -> ReservationInfo:
    row = (
        await session.execute(
            select(Reservation, Member, col(TelegramUser.telegram_id))
            .join(Member, col(Member.id) == col(Reservation.member_id))
            .join(TelegramUser, col(TelegramUser.id) == col(Member.telegram_user_id))
            .where(col(Reservation.id) == reservation_id)
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if row is None:
        raise ReservationProblem("unknown")
    reservation, member, telegram_id = row
    store = await stores.store_info(session, store_id=reservation.store_id)
    assert store is not None
    assert reservation.id is not None
    assert member.id is not None
    return ReservationInfo(
        id=reservation.id,
        member_id=member.id,
        telegram_id=int(telegram_id),
        display_name=member.display_name or "",
        tier=member.tier,
        store_id=store.id,
        store_name=store.name,
        timezone=store.timezone,
        at=reservation.at,
        party=reservation.party,
        note=reservation.note,
        status=reservation.status,
        proposed_at=reservation.proposed_at,
        via=reservation.via,
    )


async def _by_key(session: AsyncSession, key: str) -> ReservationInfo | None:
    rid = await session.scalar(select(col(Reservation.id)).where(col(Reservation.key) == key))
    return None if rid is None else await get(session, reservation_id=rid)


async def _check_scope(
    session: AsyncSession, reservation_id: int, stores_managed: Collection[int] | None
) -> ReservationInfo:
    current = await get(session, reservation_id=reservation_id)
    if stores_managed is not None and current.store_id not in stores_managed:
        raise NotAllowed("reservations")
    return current


async def _move(
    session: AsyncSession,
    reservation_id: int,
    *,
    frm: str,
    to: str,
    values: dict[str, object],
    now: datetime,
) -> Outcome:
    done = await session.execute(
        update(Reservation)
        .where(col(Reservation.id) == reservation_id, col(Reservation.status) == frm)
        .values(status=to, decided_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    changed = bool(done.rowcount)  # type: ignore[attr-defined]
    return Outcome(await get(session, reservation_id=reservation_id), changed=changed)
