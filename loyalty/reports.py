"""Reports for managers: the store's figures (`/stats`) and the results of recent campaigns
(`/campaigns`).

Everything is aggregated in SQL — a handful of COUNT / SUM / GROUP BY statements whatever the
number of members — and comes back as plain values the bot renders as text and as a chart.

What counts:

* a *member* is a member row of the store that has not been erased;
* visits are the members' standing visits (`Member.visit_count`: a refund voids its visit and
  rebuilds the count), so a refunded visit never counts;
* payments are the store's *credited* payments of current members: refunded ones (status
  "refunded"), refused ones (a fraud limit kept them from counting) and walk-in receipts nobody
  claimed are left out;
* coupons are the coupons of current members of the store, whatever their state (issued), and
  those redeemed.

A campaign's results: its outbox rows by status (the audience includes the holdout, the control
group that is recorded but never sent), the coupons attributed to it (`Coupon.campaign` is
"<kind>:<period>", as the jobs write it) and the *lift*: the share of messaged members (status
sent) who came back within LIFT_WINDOW after their message, against the share of holdout
members who came back within LIFT_WINDOW after the moment their message would have gone out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Integer, case, exists, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loyalty.broadcasts import DRAFT
from loyalty.lifecycle import Stage
from loyalty.money import currency_precision
from loyalty.outbox import CANCELLED, FAILED, HOLDOUT, PENDING, SENDING, SENT, UNREACHABLE
from loyalty.policy import Policy
from loyalty.refresh import plus_seconds, stage_case
from models.queries import CREDITED
from models.tables import Campaign, Coupon, Member, OutboxMessage, Payment, Visit

WEEK = timedelta(days=7)
LIFT_WINDOW = timedelta(days=14)
CAMPAIGN_PAGE = 10
_REDEEMED = "redeemed"  # loyalty.coupons.REDEEMED
_HUNDRED = Decimal(100)
_ONE_PLACE = Decimal("0.1")


def percent(part: int, whole: int) -> Decimal | None:
    """part / whole as a percentage to one decimal place (half up); None when whole is 0."""
    if whole <= 0:
        return None
    return (Decimal(part) * _HUNDRED / Decimal(whole)).quantize(_ONE_PLACE, ROUND_HALF_UP)


# -- /stats ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of a distribution: a tier or a lifecycle stage and how many members are in it."""

    key: str
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class StoreStats:
    """The figures of `/stats`; the text and the chart are both drawn from this one object."""

    as_of: datetime
    currency: str
    members: int
    new_this_week: int
    returning: int
    """Members with at least two standing visits."""
    visits: int
    """Standing visits of the members."""
    payments: int
    """Credited payments of the members."""
    revenue: Decimal
    coupons_issued: int
    coupons_redeemed: int
    tiers: tuple[Bar, ...]
    """Every tier of the policy, lowest first (zero included), then any tier members still hold
    that the policy no longer has."""
    stages: tuple[Bar, ...]
    """Every lifecycle stage in the order of :class:`Stage` (zero included)."""
    care_only: int = 0
    """Members past ladder.max_unanswered_offers: automated campaigns send them care only."""

    @property
    def returning_rate(self) -> Decimal | None:
        return percent(self.returning, self.members)

    @property
    def average_ticket(self) -> Decimal | None:
        """Revenue ÷ payments, to the currency's precision (half up)."""
        if not self.payments:
            return None
        places = Decimal(1).scaleb(-currency_precision(self.currency))
        return (self.revenue / self.payments).quantize(places, ROUND_HALF_UP)

    @property
    def visits_per_member(self) -> Decimal | None:
        if not self.members:
            return None
        return (Decimal(self.visits) / Decimal(self.members)).quantize(_ONE_PLACE, ROUND_HALF_UP)

    @property
    def redemption_rate(self) -> Decimal | None:
        return percent(self.coupons_redeemed, self.coupons_issued)


async def store_stats(
    session: AsyncSession, *, store_id: int, currency: str, policy: Policy, now: datetime
) -> StoreStats:
    """The store's figures as of `now` ("this week": the 7 days up to `now`)."""
    live = (col(Member.store_id) == store_id) & col(Member.erased_at).is_(None)
    row = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(
                    col(Member.enrolled_at) > now - WEEK, col(Member.enrolled_at) <= now
                ),
                func.count().filter(col(Member.visit_count) >= 2),
                func.coalesce(func.sum(col(Member.visit_count)), 0),
                func.count().filter(
                    col(Member.unanswered_offers) >= policy.ladder.max_unanswered_offers
                ),
            ).where(live)
        )
    ).one()
    members, new_this_week, returning, visits, care_only = (int(v or 0) for v in row)

    paid = (
        await session.execute(
            select(func.count(), func.sum(col(Payment.amount)))
            .join(Member, col(Member.id) == col(Payment.member_id))
            .where(
                col(Payment.store_id) == store_id,
                col(Payment.status) == CREDITED,
                col(Member.erased_at).is_(None),
            )
        )
    ).one()
    payments, revenue = int(paid[0] or 0), paid[1] or Decimal(0)

    redeemed = col(Coupon.status) == _REDEEMED
    given = (
        await session.execute(
            select(func.count(), func.count().filter(redeemed))
            .join(Member, col(Member.id) == col(Coupon.member_id))
            .where(col(Coupon.store_id) == store_id, col(Member.erased_at).is_(None))
        )
    ).one()

    by_tier = dict(
        (
            await session.execute(
                select(col(Member.tier), func.count()).where(live).group_by(col(Member.tier))
            )
        )
        .tuples()
        .all()
    )
    tiers = [Bar(key, int(by_tier.pop(key, 0))) for key in policy.tiers.keys]
    tiers += [Bar(key, int(n)) for key, n in sorted(by_tier.items())]

    stage = stage_case(policy, now=now).label("stage")
    by_stage = dict(
        (await session.execute(select(stage, func.count()).where(live).group_by(stage)))
        .tuples()
        .all()
    )
    stages = tuple(Bar(s.value, int(by_stage.get(s.value, 0))) for s in Stage)

    return StoreStats(
        as_of=now,
        currency=currency,
        members=members,
        new_this_week=new_this_week,
        returning=returning,
        visits=visits,
        payments=payments,
        revenue=revenue,
        coupons_issued=int(given[0] or 0),
        coupons_redeemed=int(given[1] or 0),
        tiers=tuple(tiers),
        stages=stages,
        care_only=care_only,
    )


# -- /campaigns --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Lift:
    """Who came back within LIFT_WINDOW: messaged members against the holdout."""

    messaged: int = 0
    messaged_returned: int = 0
    holdout: int = 0
    holdout_returned: int = 0
    measuring_until: datetime | None = None
    """When the last window closes (the figures may still grow until then)."""

    @property
    def messaged_rate(self) -> Decimal | None:
        return percent(self.messaged_returned, self.messaged)

    @property
    def holdout_rate(self) -> Decimal | None:
        return percent(self.holdout_returned, self.holdout)

    @property
    def points(self) -> Decimal | None:
        """The difference in percentage points, of the two rates as shown (one decimal)."""
        a, b = self.messaged_rate, self.holdout_rate
        return None if a is None or b is None else a - b


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignResult:
    id: int
    kind: str
    period: str
    name: str
    status: str
    created_at: datetime
    scheduled_at: datetime | None
    audience: int = 0
    """Outbox rows, the holdout included."""
    sent: int = 0
    waiting: int = 0
    """Pending or being sent."""
    failed: int = 0
    """Failed, or the person blocked the bot."""
    holdout: int = 0
    cancelled: int = 0
    coupons_issued: int = 0
    coupons_redeemed: int = 0
    revenue: Decimal = Decimal(0)
    """The bills of the redeemed coupons."""
    lift: Lift = field(default_factory=Lift)


@dataclass(frozen=True, slots=True, kw_only=True)
class CampaignPage:
    results: tuple[CampaignResult, ...]
    offset: int
    more: bool


def coupon_campaign(kind: str, period: str) -> str:
    """What a campaign's coupons carry in `Coupon.campaign` (see scheduler.campaign_jobs)."""
    return f"{kind}:{period}"


_NOT_DRAFTS = (
    # a broadcast being written, or discarded before it was ever sent or scheduled
    col(Campaign.status) != DRAFT,
    or_(col(Campaign.status) != CANCELLED, col(Campaign.scheduled_at).is_not(None)),
)


async def recent_campaigns(
    session: AsyncSession, *, now: datetime, offset: int = 0, limit: int = CAMPAIGN_PAGE
) -> CampaignPage:
    """The campaigns newest first, `limit` from `offset`, each with its results as of `now`.

    Three statements whatever the page holds: the campaigns, their outbox rows by status (with
    the returns of the messaged and holdout members), their coupons."""
    offset = max(offset, 0)
    found = (
        (
            await session.execute(
                select(Campaign)
                .where(*_NOT_DRAFTS)
                .order_by(col(Campaign.created_at).desc(), col(Campaign.id).desc())
                .offset(offset)
                .limit(limit + 1)
            )
        )
        .scalars()
        .all()
    )
    more = len(found) > limit
    campaigns = list(found[:limit])
    ids = [c.id for c in campaigns if c.id is not None]
    outbox = await outbox_figures(session, campaign_ids=ids, now=now)
    coupons = await coupon_figures(
        session, keys=[coupon_campaign(c.kind, c.period) for c in campaigns]
    )
    results = []
    for campaign in campaigns:
        assert campaign.id is not None
        counts, lift = outbox.get(campaign.id, ({}, Lift()))
        issued, redeemed, revenue = coupons.get(
            coupon_campaign(campaign.kind, campaign.period), (0, 0, Decimal(0))
        )
        results.append(
            CampaignResult(
                id=campaign.id,
                kind=campaign.kind,
                period=campaign.period,
                name=campaign.name,
                status=campaign.status,
                created_at=campaign.created_at,
                scheduled_at=campaign.scheduled_at,
                audience=sum(counts.values()),
                sent=counts.get(SENT, 0),
                waiting=counts.get(PENDING, 0) + counts.get(SENDING, 0),
                failed=counts.get(FAILED, 0) + counts.get(UNREACHABLE, 0),
                holdout=counts.get(HOLDOUT, 0),
                cancelled=counts.get(CANCELLED, 0),
                coupons_issued=issued,
                coupons_redeemed=redeemed,
                revenue=revenue,
                lift=lift,
            )
        )
    return CampaignPage(results=tuple(results), offset=offset, more=more)


async def outbox_figures(
    session: AsyncSession, *, campaign_ids: Sequence[int], now: datetime
) -> dict[int, tuple[dict[str, int], Lift]]:
    """Per campaign: rows by status, and the lift from the sent and holdout rows."""
    if not campaign_ids:
        return {}
    status = col(OutboxMessage.status)
    # a sent message counts from when it went out; a holdout one from when it would have
    reference = case(
        (status == SENT, col(OutboxMessage.sent_at)), else_=col(OutboxMessage.next_attempt_at)
    )
    came_back = exists().where(
        col(Visit.member_id) == col(OutboxMessage.member_id),
        col(Visit.voided_at).is_(None),
        col(Visit.at) > reference,
        col(Visit.at)
        <= plus_seconds(reference, literal(int(LIFT_WINDOW.total_seconds()), Integer())),
    )
    measured = status.in_((SENT, HOLDOUT))
    rows = await session.execute(
        select(
            col(OutboxMessage.campaign_id),
            status,
            func.count(),
            func.sum(case((measured & came_back, 1), else_=0)),
            func.max(case((measured, reference), else_=None)),
        )
        .where(col(OutboxMessage.campaign_id).in_(campaign_ids))
        .group_by(col(OutboxMessage.campaign_id), status)
    )
    counts: dict[int, dict[str, int]] = {}
    returned: dict[int, dict[str, int]] = {}
    last: dict[int, datetime] = {}
    for campaign_id, row_status, n, back, latest in rows.all():
        counts.setdefault(campaign_id, {})[row_status] = int(n)
        returned.setdefault(campaign_id, {})[row_status] = int(back or 0)
        if latest is not None:
            latest = _aware(latest)
            last[campaign_id] = max(latest, last.get(campaign_id, latest))
    out = {}
    for campaign_id, by_status in counts.items():
        until = last[campaign_id] + LIFT_WINDOW if campaign_id in last else None
        out[campaign_id] = (
            by_status,
            Lift(
                messaged=by_status.get(SENT, 0),
                messaged_returned=returned[campaign_id].get(SENT, 0),
                holdout=by_status.get(HOLDOUT, 0),
                holdout_returned=returned[campaign_id].get(HOLDOUT, 0),
                measuring_until=until if until is not None and until > now else None,
            ),
        )
    return out


def _aware(value: datetime | str) -> datetime:
    """MAX over a CASE may lose the column type on SQLite (text comes back): read it as UTC."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


async def coupon_figures(
    session: AsyncSession, *, keys: Sequence[str]
) -> dict[str, tuple[int, int, Decimal]]:
    """Per campaign key: coupons issued, redeemed, and the bills of the redeemed ones."""
    if not keys:
        return {}
    redeemed = col(Coupon.status) == _REDEEMED
    rows = await session.execute(
        select(
            col(Coupon.campaign),
            func.count(),
            func.count().filter(redeemed),
            func.sum(col(Coupon.bill_amount)).filter(redeemed),
        )
        .where(col(Coupon.campaign).in_(list(keys)))
        .group_by(col(Coupon.campaign))
    )
    return {
        str(key): (int(issued), int(used or 0), bills or Decimal(0))
        for key, issued, used, bills in rows.all()
    }
