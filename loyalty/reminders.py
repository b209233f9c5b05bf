"""The reminders members expect from a loyalty app: points about to expire, a coupon about to
run out, one visit from the next tier or from what their points buy, a tier about to be lost,
the anniversary of joining, and the days points count more.

Each finder below answers "who is due as of now?" with plain values; the scheduler
(`scheduler/reminder_jobs.py`) words them in each member's language and queues them through the
outbox, which applies the member's marketing consent, the weekly cap and quiet hours
(`loyalty.outbox.plan`). What makes a reminder fire once is its `period`, which with its kind and
the member is the outbox's dedupe key:

=================  ===============================  ========================================
kind               period                           due
=================  ===============================  ========================================
points_expiring    the last day it looks ahead to   points the nightly refresh will expire
                                                    within the next N days; not again until
                                                    that day has passed
coupon_expiring    the coupon                       its last day is at most N days away
                                                    (not within a day of its issue)
near_reward        next tier and the day its        a visit in the last RECENT days left
                   missing visits must come by;     them at most N visits short
                   or offer and exchanges so far
keep_tier          tier and the day it drops        the tier drops within N days unless they
                                                    visit, and their rhythm would not bring
                                                    them back before (a member on rhythm is
                                                    left alone)
anniversary        the year                         within a week after the day they joined
multiplier_day     the day                          a points.multipliers rule with weekdays
                                                    applies today
=================  ===============================  ========================================

A reminder held back (the weekly cap, no consent yet) writes nothing, so the next day's run
offers it again while it is still due; once planned (sent, held out or refused by Telegram) its
key is taken.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loyalty import coupons, grades, outbox, points, tiers
from loyalty.coupons import CouponView
from loyalty.outbox import celebrated_on
from loyalty.policy import WEEKDAYS, Multiplier, Policy
from models import queries
from models.tables import Member, PointsEntry, Visit

POINTS_EXPIRING = "points_expiring"
COUPON_EXPIRING = "coupon_expiring"
NEAR_REWARD = "near_reward"
KEEP_TIER = "keep_tier"
ANNIVERSARY = "anniversary"
MULTIPLIER_DAY = "multiplier_day"
KINDS = (
    COUPON_EXPIRING,
    POINTS_EXPIRING,
    KEEP_TIER,
    NEAR_REWARD,
    ANNIVERSARY,
    MULTIPLIER_DAY,
)
"""Every reminder, most urgent first: when the weekly cap leaves room for one, it goes first."""

BATCH = 1000
"""Members per statement where a list of ids goes into the SQL."""
FRESH_COUPON = timedelta(days=1)
RECENT = timedelta(days=3)
"""Near a reward: a visit this recent put them there (a capped reminder is retried meanwhile)."""
ANNIVERSARY_DAYS = 7
"""An anniversary greeting the cap held back may still go out within this many days."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Reminder:
    """One reminder due to one member, with what its message says."""

    kind: str
    member_id: int
    period: str
    day: date | None = None
    """Local day it is about: points or a coupon expire, the tier drops, the visit is due by."""
    last_day: date | None = None
    """Points expiring over several days: the last of them."""
    points: int = 0
    """Points expiring, or points missing for the reward."""
    visits: int = 0
    """Visits missing (near a reward)."""
    tier: str | None = None
    template: str | None = None
    """Near a reward by points: the coupon template the points buy."""
    currency: str | None = None
    """Near a reward by points: the member's store's currency (what the coupon is worth in)."""
    coupon: CouponView | None = None
    years: int = 0


def local_day_end(day: date, timezone: str) -> datetime:
    """The last moment of a local day."""
    start = datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(timezone))
    return start - timedelta(microseconds=1)


# -- points and coupons about to expire ---------------------------------------------------------


async def points_expiring(
    session: AsyncSession,
    *,
    policy: Policy,
    today: date,
    refreshes: Sequence[tuple[date, datetime]],
) -> list[Reminder]:
    """`refreshes`: (local day, moment) of the nightly refreshes still to come, one per day for
    reminders.points_expiring_days days (today's has run). Points they would expire, by the
    first and the last day some expire."""
    if not refreshes or policy.points.expire_days <= 0:
        return []
    horizon = refreshes[-1][0].isoformat()
    losing = sorted(await points.expiring_by(session, policy=policy, at=refreshes[-1][1]))
    schedule: dict[int, list[int]] = {}
    for start in range(0, len(losing), BATCH):
        batch = losing[start : start + BATCH]
        told = await outbox.told_periods(session, kind=POINTS_EXPIRING, member_ids=batch)
        # told about the days up to a horizon still ahead: that reminder covers them
        fresh = [m for m in batch if all(p <= today.isoformat() for p in told.get(m, []))]
        schedule |= await points.expiry_schedule(
            session, policy=policy, member_ids=fresh, refreshes=[at for _, at in refreshes]
        )
    found = []
    for member_id, amounts in sorted(schedule.items()):
        total = amounts[-1]
        first = next(i for i, amount in enumerate(amounts) if amount > 0)
        last = amounts.index(total)
        found.append(
            Reminder(
                kind=POINTS_EXPIRING,
                member_id=member_id,
                period=horizon,
                points=total,
                day=refreshes[first][0],
                last_day=refreshes[last][0],
            )
        )
    return found


async def coupons_expiring(
    session: AsyncSession, *, policy: Policy, now: datetime, today: date, timezone: str
) -> list[Reminder]:
    """Usable coupons whose last day is at most reminders.coupon_expiring_days away (a coupon
    given within the last FRESH_COUPON was just announced: it waits a day)."""
    days = policy.reminders.coupon_expiring_days
    if days <= 0:
        return []
    until = local_day_end(today + timedelta(days=days), timezone)
    zone = ZoneInfo(timezone)
    return [
        Reminder(
            kind=COUPON_EXPIRING,
            member_id=view.member_id,
            period=f"coupon{view.id}",
            coupon=view,
            day=view.valid_until.astimezone(zone).date(),
        )
        for view in await coupons.expiring_between(
            session, now=now, until=until, issued_before=now - FRESH_COUPON
        )
    ]


# -- near a reward -----------------------------------------------------------------------------


async def near_rewards(
    session: AsyncSession, *, policy: Policy, now: datetime, timezone: str
) -> list[Reminder]:
    """Members a recent visit left at most reminders.near_reward_visits visits short of their
    next tier (those with one visit only are the second-visit nudge's), else of the cheapest
    thing their points cannot buy yet, at the points they usually earn a visit. One each."""
    most = policy.reminders.near_reward_visits
    if most <= 0:
        return []
    rows = await session.execute(
        select(Member).where(
            col(Member.erased_at).is_(None),
            col(Member.visit_count) >= 1,
            col(Member.last_visit_at) >= now - RECENT,
        )
    )
    members = list(rows.scalars().all())
    ids = [m.id for m in members if m.id is not None]
    exchanges: dict[int, int] = {}
    for start in range(0, len(ids), BATCH):
        exchanges |= await _exchanges_made(session, member_ids=ids[start : start + BATCH])
    currencies = {}
    for store_id in {m.store_id for m in members}:
        store = await queries.get_store(session, store_id=store_id)
        assert store is not None  # a member's store exists (foreign key)
        currencies[store_id] = store.currency
    found = []
    for member in members:
        assert member.id is not None
        reminder = None
        if member.visit_count >= 2:
            reminder = await _near_tier(
                session, member=member, policy=policy, now=now, most=most, timezone=timezone
            )
        if reminder is None:
            reminder = _near_points(
                member,
                policy,
                most,
                exchanged=exchanges.get(member.id, 0),
                currency=currencies[member.store_id],
            )
        if reminder is not None:
            found.append(reminder)
    return found


async def _near_tier(
    session: AsyncSession,
    *,
    member: Member,
    policy: Policy,
    now: datetime,
    most: int,
    timezone: str,
) -> Reminder | None:
    assert member.id is not None
    if grades.in_force(member, now=now):  # a manager's grade: visits do not move it
        return None
    status = await tiers.status_of(session, member=member, policy=policy, now=now)
    if not status.graded or status.next_tier is None or not 0 < status.visits_needed <= most:
        return None
    others = status.spend_needed or status.referrals_needed or status.suggestions_needed
    if others and not status.any_of:
        return None  # visits alone would not do it
    deadline = (
        status.deadline.astimezone(ZoneInfo(timezone)).date()
        if status.deadline is not None
        else None
    )
    return Reminder(
        kind=NEAR_REWARD,
        member_id=member.id,
        period=f"{status.next_tier}:{deadline.isoformat() if deadline else 'open'}",
        tier=status.next_tier,
        visits=status.visits_needed,
        day=deadline,
    )


def _near_points(
    member: Member, policy: Policy, most: int, *, exchanged: int, currency: str
) -> Reminder | None:
    assert member.id is not None
    offers = sorted(
        (e for e in policy.points.exchange if e.template in policy.coupons.templates),
        key=lambda e: e.cost,
    )
    offer = next((e for e in offers if e.cost > member.points_balance), None)
    if offer is None or member.visit_count <= 0:
        return None
    usual_bill = Decimal(member.total_spend) / member.visit_count
    per_visit = policy.points.for_amount(max(usual_bill, Decimal(0)))
    missing = offer.cost - member.points_balance
    if per_visit <= 0 or missing > most * per_visit:
        return None
    return Reminder(
        kind=NEAR_REWARD,
        member_id=member.id,
        period=f"{offer.template}:{exchanged}",
        points=missing,
        visits=math.ceil(missing / per_visit),
        template=offer.template,
        currency=currency,
    )


async def _exchanges_made(session: AsyncSession, *, member_ids: Sequence[int]) -> dict[int, int]:
    """Points exchanges each member has made: a new one starts a new approach to a reward."""
    if not member_ids:
        return {}
    rows = await session.execute(
        select(col(PointsEntry.member_id), func.count())
        .where(col(PointsEntry.member_id).in_(member_ids), col(PointsEntry.reason) == "exchange")
        .group_by(col(PointsEntry.member_id))
    )
    return {int(member_id): int(n) for member_id, n in rows.all()}


# -- keeping a tier ----------------------------------------------------------------------------


async def keep_tier(
    session: AsyncSession, *, policy: Policy, now: datetime, timezone: str
) -> list[Reminder]:
    """Members above the floor whose tier drops within reminders.keep_tier_days unless they
    visit, when their rhythm would not bring them back in time: the expected visit (last visit
    plus expected interval) is past already, or after the drop."""
    days = policy.reminders.keep_tier_days
    if days <= 0:
        return []
    window = _counting(policy)
    horizon = now + timedelta(days=days)
    floor = [policy.tiers.ladder[0].name]
    if policy.tiers.ungraded_tier is not None:
        floor.append(policy.tiers.ungraded_tier)  # (NOT IN with a NULL matches nothing)
    ageing = exists().where(  # a visit leaves the window within the days ahead
        col(Visit.member_id) == col(Member.id),
        col(Visit.voided_at).is_(None),
        col(Visit.at) > now - window,
        col(Visit.at) <= horizon - window,
    )
    rows = await session.execute(
        select(Member).where(
            col(Member.erased_at).is_(None), col(Member.tier).not_in(floor), ageing
        )
    )
    found = []
    for member in rows.scalars().all():
        assert member.id is not None
        if grades.in_force(member, now=now):  # a manager's grade holds: nothing to keep
            continue
        drop = await _drop_moment(session, member=member, policy=policy, now=now, until=horizon)
        if drop is None:
            continue
        tier, at = drop
        if _in_episode(member, at):
            # no tier goes inside an open win-back episode: it goes when the episode ends (lost)
            if member.lost_due_at is None or member.lost_due_at > horizon:
                continue
            at = member.lost_due_at
        expected = _expected_visit(member)
        if expected is not None and now <= expected < at:
            continue  # on their rhythm they come before it: nothing to say
        day = at.astimezone(ZoneInfo(timezone)).date()
        found.append(
            Reminder(
                kind=KEEP_TIER,
                member_id=member.id,
                period=f"{tier}:{day.isoformat()}",
                tier=tier,
                day=day,
            )
        )
    return found


async def _drop_moment(
    session: AsyncSession, *, member: Member, policy: Policy, now: datetime, until: datetime
) -> tuple[str, datetime] | None:
    """(tier now, the moment it is lost) if a visit leaving the window by `until` costs the
    member their tier (no new visit meanwhile); None otherwise."""
    assert member.id is not None
    history = await queries.visit_history(session, member_id=member.id)
    grace = policy.tiers.downgrade_grace_days  # what the member holds counts the grace too
    status = await tiers.status_of(
        session, member=member, policy=policy, now=now, history=history, grace_days=grace
    )
    rank = policy.tiers.rank(status.tier)
    if not status.graded or rank <= 0:
        return None
    window = _counting(policy)
    leaving = sorted({at + window for at, _ in history if now < at + window <= until})
    for moment in leaving:
        later = await tiers.status_of(
            session,
            member=member,
            policy=policy,
            now=moment + timedelta(seconds=1),
            history=history,
            grace_days=grace,
        )
        if policy.tiers.rank(later.tier) < rank:
            return status.tier, moment
    return None


def _counting(policy: Policy) -> timedelta:
    """How long a visit keeps counting toward the tier a member holds: the tier window and the
    downgrade grace after it (a downgrade goes only as far as the lenient tier: tiers.settle)."""
    return timedelta(days=policy.tiers.window_days + policy.tiers.downgrade_grace_days)


def _in_episode(member: Member, at: datetime) -> bool:
    """The member's win-back episode is open at `at` (lapsed, not yet lost): see tiers.settle."""
    lapsed, lost = member.lapsed_due_at, member.lost_due_at
    return lapsed is not None and lapsed <= at and (lost is None or at < lost)


def _expected_visit(member: Member) -> datetime | None:
    if member.last_visit_at is None or member.expected_interval_days is None:
        return None
    return member.last_visit_at + timedelta(days=float(member.expected_interval_days))


# -- anniversaries -----------------------------------------------------------------------------


async def anniversaries(
    session: AsyncSession, *, policy: Policy, today: date, timezone: str
) -> list[Reminder]:
    """Members whose anniversary of joining (local day; 29 February: 28 February in common
    years) fell within the last ANNIVERSARY_DAYS days, today included."""
    if not policy.reminders.anniversary:
        return []
    zone = ZoneInfo(timezone)
    oldest = await session.scalar(
        select(func.min(col(Member.enrolled_at))).where(col(Member.erased_at).is_(None))
    )
    if oldest is None:
        return []
    first = today - timedelta(days=ANNIVERSARY_DAYS - 1)
    ranges = []
    for years in range(1, today.year - oldest.astimezone(zone).year + 1):
        # the days `years` back, widened by a day each side (29 February, time zones)
        start = _years_back(first, years) - timedelta(days=1)
        end = _years_back(today, years) + timedelta(days=2)
        ranges.append(
            and_(
                col(Member.enrolled_at) >= datetime.combine(start, time(0), tzinfo=zone),
                col(Member.enrolled_at) < datetime.combine(end, time(0), tzinfo=zone),
            )
        )
    if not ranges:
        return []
    rows = await session.execute(
        select(col(Member.id), col(Member.enrolled_at)).where(
            col(Member.erased_at).is_(None), or_(*ranges)
        )
    )
    found = []
    for member_id, enrolled_at in rows.all():
        joined = enrolled_at.astimezone(zone).date()
        for year in {first.year, today.year}:
            day = celebrated_on(joined, year)
            if year > joined.year and first <= day <= today:
                found.append(
                    Reminder(
                        kind=ANNIVERSARY,
                        member_id=int(member_id),
                        period=str(year),
                        day=day,
                        years=year - joined.year,
                    )
                )
    return found


def _years_back(day: date, years: int) -> date:
    return celebrated_on(day, day.year - years)


# -- points multipliers ------------------------------------------------------------------------


def multipliers_on(policy: Policy, day: date) -> tuple[Multiplier, ...]:
    """The points.multipliers rules tied to weekdays that apply on `day` (a rule for every day
    is no news: /card and /wallet show it, nobody is told each morning)."""
    weekday = WEEKDAYS[day.weekday()]
    return tuple(rule for rule in policy.points.multipliers if weekday in rule.weekdays)


def still_ahead(rule: Multiplier, at: time) -> bool:
    """Whether a rule's hours have not ended by local time `at` (worth announcing then)."""
    hours = rule.hours
    return hours is None or hours.start > hours.end or at < hours.end


async def member_ids_after(session: AsyncSession, *, after: int, limit: int) -> list[int]:
    """Members (not erased) with an id above `after`, in order: everyone, a batch at a time."""
    rows = await session.execute(
        select(col(Member.id))
        .where(col(Member.id) > after, col(Member.erased_at).is_(None))
        .order_by(col(Member.id))
        .limit(limit)
    )
    return [int(i) for i in rows.scalars().all() if i is not None]
