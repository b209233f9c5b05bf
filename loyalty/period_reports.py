"""`/stats` by period (seed 004 judges a membership programme by members gained, coupons
redeemed and the average ticket before and after): each figure for a period and for the period
before it (loyalty.periods), the months around it, and a cohort grid.

What counts (a store's figures; erased members, refunded or refused payments and voided visits
are left out, as in loyalty.reports):

* **members gained** — members who joined (their first payment) in the period, by acquisition
  channel;
* **returning rate** — of the members whose first visit fell in the period, the share whose
  second visit came within ``reports.returning_days`` of the first; members whose days are not
  over yet and who have not come back are left out of the rate (counted apart), so a period
  that just began does not look worse than it is;
* **visits** — visits at the store in the period; **member revenue** — the members' credited
  bills at the store in the period; **average ticket** — revenue ÷ bills, also for the bills of
  members' first visits (within ``fraud.min_minutes_between_visits`` of it: a second round is
  the same visit) and of later visits;
* **coupons** — issued in the period and how many of those were redeemed, by campaign kind
  (the win-back's steps together; gifts and points exchanges apart);
* **care** — entries listed in the period and what managers did (wrote, asked why, done);
  **survey** — questions asked and the answers by reason;
* **tiers** — members per tier at the end of each period (from the tier changes: a member's
  tier then is the one their last change before it gave them); **stages** — now only: the
  lifecycle stage is not kept in history.

The months (members gained, average ticket) are the calendar months of the store's time zone,
the six up to the period's end (more when the period is longer, up to twelve); the cohort grid
shows, for the members who joined in each of those months, the share who came in the month they
joined and each month after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loyalty import care, perks
from loyalty.campaign_kinds import kind_of
from loyalty.channels import Channel
from loyalty.lifecycle import Stage
from loyalty.money import currency_precision
from loyalty.periods import Period, month_starts, previous
from loyalty.policy import Policy
from loyalty.refresh import plus_seconds, stage_case
from loyalty.reports import Bar, percent
from models.queries import CREDITED
from models.tables import CareEntry, CareSurvey, Coupon, Member, Payment, TierChange, Visit

MONTHS_SHOWN = 6
MAX_MONTHS = 12
_REDEEMED = "redeemed"


@dataclass(frozen=True, slots=True)
class Tickets:
    """Bills and their sum: the average ticket is sum ÷ bills."""

    bills: int = 0
    revenue: Decimal = Decimal(0)

    def average(self, currency: str) -> Decimal | None:
        if not self.bills:
            return None
        places = Decimal(1).scaleb(-currency_precision(currency))
        return (self.revenue / self.bills).quantize(places, ROUND_HALF_UP)


@dataclass(frozen=True, slots=True)
class CouponKind:
    kind: str
    issued: int
    redeemed: int

    @property
    def rate(self) -> Decimal | None:
        return percent(self.redeemed, self.issued)


@dataclass(frozen=True, slots=True, kw_only=True)
class Figures:
    """One period's figures."""

    gained: tuple[Bar, ...]
    """By acquisition channel, every channel (zero included)."""
    first_visits: int
    returned: int
    still_open: int
    """First visits whose returning days are not over, without a return yet."""
    visits: int
    tickets: Tickets
    first_tickets: Tickets
    later_tickets: Tickets
    coupons: tuple[CouponKind, ...]
    care: tuple[Bar, ...]
    """"listed", then the managers' actions (wrote, asked, done)."""
    surveys_asked: int
    survey_reasons: tuple[Bar, ...]
    """Answers by reason, every reason (zero included)."""
    tiers: tuple[Bar, ...]
    perks: tuple[perks.PerkFigure, ...] = ()
    """Standing perks used in the period, per tier (tiers without one left out)."""

    @property
    def members_gained(self) -> int:
        return sum(b.count for b in self.gained)

    @property
    def returning_rate(self) -> Decimal | None:
        return percent(self.returned, self.first_visits - self.still_open)


@dataclass(frozen=True, slots=True)
class Month:
    start: date
    gained: int
    tickets: Tickets


@dataclass(frozen=True, slots=True)
class Cohort:
    start: date
    """The month they joined."""
    members: int
    came: tuple[int, ...]
    """Members who visited in the month they joined (0), the month after (1), …, as far as
    the months have begun. Months nobody joined in have no row."""

    def share(self, k: int) -> Decimal | None:
        return percent(self.came[k], self.members) if k < len(self.came) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class PeriodStats:
    """`/stats` for a period: the text and the charts are drawn from this one object."""

    as_of: datetime
    currency: str
    period: Period
    before: Period
    now: Figures
    then: Figures
    stages: tuple[Bar, ...]
    months: tuple[Month, ...]
    cohorts: tuple[Cohort, ...]
    returning_days: int


def _bounds(days: Sequence[date], zone: ZoneInfo) -> list[datetime]:
    return [datetime.combine(d, time(0), tzinfo=zone) for d in days]


def _index(column: Any, edges: Sequence[datetime]) -> Any:
    """Which of the ranges [edges[i], edges[i+1]) an instant falls in (−1: none)."""
    whens = [(and_(column >= edges[i], column < edges[i + 1]), i) for i in range(len(edges) - 1)]
    return case(*whens, else_=-1)


async def _gained(session: AsyncSession, *, store_id: int, period: Period) -> tuple[Bar, ...]:
    rows = await session.execute(
        select(col(Member.acquisition_channel), func.count())
        .where(
            col(Member.store_id) == store_id,
            col(Member.erased_at).is_(None),
            col(Member.enrolled_at) >= period.start,
            col(Member.enrolled_at) < period.end,
        )
        .group_by(col(Member.acquisition_channel))
    )
    found = {str(k): int(n) for k, n in rows.tuples().all()}
    bars = [Bar(c.value, found.pop(c.value, 0)) for c in Channel]
    return tuple(bars + [Bar(k, n) for k, n in sorted(found.items())])


async def _returning(
    session: AsyncSession, *, store_id: int, period: Period, days: int, now: datetime
) -> tuple[int, int, int]:
    """(first visits in the period, returned within `days`, still within their days)."""
    gap = col(Member.first_gap_days)
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(gap <= days),
                func.count().filter(
                    gap.is_(None), col(Member.first_visit_at) > now - timedelta(days=days)
                ),
            ).where(
                col(Member.store_id) == store_id,
                col(Member.erased_at).is_(None),
                col(Member.first_visit_at) >= period.start,
                col(Member.first_visit_at) < period.end,
            )
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)


async def _visits(session: AsyncSession, *, store_id: int, period: Period) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Visit)
            .join(Member, col(Member.id) == col(Visit.member_id))
            .where(
                col(Visit.store_id) == store_id,
                col(Visit.voided_at).is_(None),
                col(Member.erased_at).is_(None),
                col(Visit.at) >= period.start,
                col(Visit.at) < period.end,
            )
        )
        or 0
    )


def _bills(store_id: int) -> tuple[Any, ...]:
    return (
        col(Payment.store_id) == store_id,
        col(Payment.status) == CREDITED,
        col(Member.erased_at).is_(None),
    )


async def _tickets(
    session: AsyncSession, *, store_id: int, period: Period, policy: Policy
) -> tuple[Tickets, Tickets, Tickets]:
    """(all bills, bills of first visits, bills of later visits) in the period."""
    merge = literal(policy.fraud.min_minutes_between_visits * 60, Integer())
    first = col(Payment.credited_at) < plus_seconds(col(Member.first_visit_at), merge)
    amount = col(Payment.amount)
    row = (
        await session.execute(
            select(
                func.count(),
                func.sum(amount),
                func.count().filter(first),
                func.sum(amount).filter(first),
            )
            .join(Member, col(Member.id) == col(Payment.member_id))
            .where(
                *_bills(store_id),
                col(Payment.credited_at) >= period.start,
                col(Payment.credited_at) < period.end,
            )
        )
    ).one()
    bills, revenue = int(row[0] or 0), Decimal(row[1] or 0)
    first_bills, first_revenue = int(row[2] or 0), Decimal(row[3] or 0)
    return (
        Tickets(bills, revenue),
        Tickets(first_bills, first_revenue),
        Tickets(bills - first_bills, revenue - first_revenue),
    )


async def _coupons(
    session: AsyncSession, *, store_id: int, period: Period
) -> tuple[CouponKind, ...]:
    rows = await session.execute(
        select(
            col(Coupon.campaign), func.count(), func.count().filter(col(Coupon.status) == _REDEEMED)
        )
        .join(Member, col(Member.id) == col(Coupon.member_id))
        .where(
            col(Coupon.store_id) == store_id,
            col(Member.erased_at).is_(None),
            col(Coupon.issued_at) >= period.start,
            col(Coupon.issued_at) < period.end,
        )
        .group_by(col(Coupon.campaign))
    )
    kinds: dict[str, tuple[int, int]] = {}
    for campaign, issued, redeemed in rows.tuples().all():
        kind = kind_of((campaign or "other").split(":", 1)[0])
        was = kinds.get(kind, (0, 0))
        kinds[kind] = (was[0] + int(issued), was[1] + int(redeemed or 0))
    return tuple(CouponKind(k, i, r) for k, (i, r) in sorted(kinds.items()))


async def _care(
    session: AsyncSession, *, store_id: int, period: Period
) -> tuple[tuple[Bar, ...], int, tuple[Bar, ...]]:
    """(listed and the actions, surveys asked, answers by reason)."""
    listed = await session.scalar(
        select(func.count())
        .select_from(CareEntry)
        .where(
            col(CareEntry.store_id) == store_id,
            col(CareEntry.created_at) >= period.start,
            col(CareEntry.created_at) < period.end,
        )
    )
    rows = await session.execute(
        select(col(CareEntry.action), func.count())
        .where(
            col(CareEntry.store_id) == store_id,
            col(CareEntry.status) == care.DONE,
            col(CareEntry.handled_at) >= period.start,
            col(CareEntry.handled_at) < period.end,
        )
        .group_by(col(CareEntry.action))
    )
    actions = dict(rows.tuples().all())
    done = (care.WROTE, care.ASKED, care.HANDLED)
    bars = (Bar("listed", int(listed or 0)), *(Bar(a, int(actions.get(a, 0))) for a in done))
    in_period = (col(CareSurvey.store_id) == store_id,)
    asked = await session.scalar(
        select(func.count())
        .select_from(CareSurvey)
        .where(
            *in_period,
            col(CareSurvey.asked_at) >= period.start,
            col(CareSurvey.asked_at) < period.end,
        )
    )
    answers = dict(
        (
            await session.execute(
                select(col(CareSurvey.reason), func.count())
                .where(
                    *in_period,
                    col(CareSurvey.answered_at) >= period.start,
                    col(CareSurvey.answered_at) < period.end,
                )
                .group_by(col(CareSurvey.reason))
            )
        )
        .tuples()
        .all()
    )
    reasons = tuple(Bar(r, int(answers.get(r, 0))) for r in care.SURVEY_REASONS)
    return bars, int(asked or 0), reasons


async def _tiers_at(
    session: AsyncSession, *, store_id: int, at: datetime, policy: Policy
) -> tuple[Bar, ...]:
    """Members per tier at `at`: their last tier change before it, else the tier their first
    change after it started from, else the tier they hold now."""
    last_before = (
        select(col(TierChange.to_tier))
        .where(col(TierChange.member_id) == col(Member.id), col(TierChange.at) <= at)
        .order_by(col(TierChange.at).desc(), col(TierChange.id).desc())
        .limit(1)
        .scalar_subquery()
    )
    first_after = (
        select(col(TierChange.from_tier))
        .where(col(TierChange.member_id) == col(Member.id), col(TierChange.at) > at)
        .order_by(col(TierChange.at), col(TierChange.id))
        .limit(1)
        .scalar_subquery()
    )
    tier = func.coalesce(last_before, first_after, col(Member.tier)).label("tier")
    rows = await session.execute(
        select(tier, func.count())
        .where(
            col(Member.store_id) == store_id,
            col(Member.erased_at).is_(None),
            col(Member.enrolled_at) < at,
        )
        .group_by(tier)
    )
    found = {str(k): int(n) for k, n in rows.tuples().all()}
    bars = [Bar(key, found.pop(key, 0)) for key in policy.tiers.keys]
    return tuple(bars + [Bar(k, n) for k, n in sorted(found.items())])


async def figures(
    session: AsyncSession, *, store_id: int, period: Period, policy: Policy, now: datetime
) -> Figures:
    tickets, first, later = await _tickets(session, store_id=store_id, period=period, policy=policy)
    first_visits, returned, still_open = await _returning(
        session, store_id=store_id, period=period, days=policy.reports.returning_days, now=now
    )
    care_bars, asked, reasons = await _care(session, store_id=store_id, period=period)
    return Figures(
        gained=await _gained(session, store_id=store_id, period=period),
        first_visits=first_visits,
        returned=returned,
        still_open=still_open,
        visits=await _visits(session, store_id=store_id, period=period),
        tickets=tickets,
        first_tickets=first,
        later_tickets=later,
        coupons=await _coupons(session, store_id=store_id, period=period),
        care=care_bars,
        surveys_asked=asked,
        survey_reasons=reasons,
        tiers=await _tiers_at(session, store_id=store_id, at=period.end, policy=policy),
        perks=await perks.used_by_tier(
            session, store_id=store_id, start=period.start, end=period.end, policy=policy
        ),
    )


def shown_months(period: Period) -> list[date]:
    """The months of the charts: six up to the period's end, or the period's (up to twelve)."""
    last = period.last_day.replace(day=1)
    first = period.first_day.replace(day=1)
    months = month_starts(first, last)
    if len(months) < MONTHS_SHOWN:
        start = last
        for _ in range(MONTHS_SHOWN - 1):
            start = (start - timedelta(days=1)).replace(day=1)
        months = month_starts(start, last)
    return months[-MAX_MONTHS:]


async def _months(
    session: AsyncSession, *, store_id: int, months: Sequence[date], zone: ZoneInfo
) -> tuple[Month, ...]:
    next_month = (months[-1] + timedelta(days=32)).replace(day=1)
    edges = _bounds([*months, next_month], zone)
    joined = _index(col(Member.enrolled_at), edges).label("m")
    gained = dict(
        (
            await session.execute(
                select(joined, func.count())
                .where(col(Member.store_id) == store_id, col(Member.erased_at).is_(None))
                .where(col(Member.enrolled_at) >= edges[0], col(Member.enrolled_at) < edges[-1])
                .group_by(joined)
            )
        )
        .tuples()
        .all()
    )
    paid = _index(col(Payment.credited_at), edges).label("m")
    rows = await session.execute(
        select(paid, func.count(), func.sum(col(Payment.amount)))
        .join(Member, col(Member.id) == col(Payment.member_id))
        .where(
            *_bills(store_id),
            col(Payment.credited_at) >= edges[0],
            col(Payment.credited_at) < edges[-1],
        )
        .group_by(paid)
    )
    tickets = {int(m): Tickets(int(n), Decimal(s or 0)) for m, n, s in rows.tuples().all()}
    return tuple(
        Month(start, int(gained.get(i, 0)), tickets.get(i, Tickets()))
        for i, start in enumerate(months)
    )


async def _cohorts(
    session: AsyncSession,
    *,
    store_id: int,
    months: Sequence[date],
    zone: ZoneInfo,
    now: datetime,
) -> tuple[Cohort, ...]:
    next_month = (months[-1] + timedelta(days=32)).replace(day=1)
    edges = _bounds([*months, next_month], zone)
    joined = _index(col(Member.enrolled_at), edges).label("j")
    members = (
        col(Member.store_id) == store_id,
        col(Member.erased_at).is_(None),
        col(Member.enrolled_at) >= edges[0],
        col(Member.enrolled_at) < edges[-1],
    )
    sizes = dict(
        (await session.execute(select(joined, func.count()).where(*members).group_by(joined)))
        .tuples()
        .all()
    )
    came = _index(col(Visit.at), edges).label("v")
    rows = await session.execute(
        select(joined, came, func.count(func.distinct(col(Visit.member_id))))
        .join(Member, col(Member.id) == col(Visit.member_id))
        .where(*members, col(Visit.voided_at).is_(None), col(Visit.at) >= edges[0])
        .group_by(joined, came)
    )
    counts = {(int(j), int(v)): int(n) for j, v, n in rows.tuples().all()}
    begun = sum(1 for edge in edges[:-1] if edge <= now)
    return tuple(
        Cohort(
            start,
            int(sizes.get(i, 0)),
            tuple(counts.get((i, v), 0) for v in range(i, begun)),
        )
        for i, start in enumerate(months)
        if i < begun and sizes.get(i)
    )


async def _stages(
    session: AsyncSession, *, store_id: int, policy: Policy, now: datetime
) -> tuple[Bar, ...]:
    stage = stage_case(policy, now=now).label("stage")
    found = dict(
        (
            await session.execute(
                select(stage, func.count())
                .where(col(Member.store_id) == store_id, col(Member.erased_at).is_(None))
                .group_by(stage)
            )
        )
        .tuples()
        .all()
    )
    return tuple(Bar(s.value, int(found.get(s.value, 0))) for s in Stage)


async def period_stats(
    session: AsyncSession,
    *,
    store_id: int,
    currency: str,
    period: Period,
    policy: Policy,
    now: datetime,
) -> PeriodStats:
    """Everything `/stats` shows for `period` and the period before it."""
    before = previous(period)
    zone = ZoneInfo(period.timezone)
    months = shown_months(period)
    return PeriodStats(
        as_of=now,
        currency=currency,
        period=period,
        before=before,
        now=await figures(session, store_id=store_id, period=period, policy=policy, now=now),
        then=await figures(session, store_id=store_id, period=before, policy=policy, now=now),
        stages=await _stages(session, store_id=store_id, policy=policy, now=now),
        months=await _months(session, store_id=store_id, months=months, zone=zone),
        cohorts=await _cohorts(session, store_id=store_id, months=months, zone=zone, now=now),
        returning_days=policy.reports.returning_days,
    )
