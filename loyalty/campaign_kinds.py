"""`/campaigns` by kind: one row per kind of campaign for a period — birthday greetings, the
second-visit nudge, the win-back ladder (all its steps), new dishes, holiday greetings — and one
row per broadcast. The automated jobs make one campaign per kind and day; a manager wants to know
what each kind did over the weeks, not 400 daily entries most of which reached nobody. A kind
whose days reached nobody in the period is not listed at all.

Each row: the audience (holdout included), messages sent (handed to Telegram, whatever came of
it), delivered (Telegram took them), the coupons the row's campaigns issued and how many were
redeemed, the bills of the redeemed ones, and the return visits of the messaged members against
the holdout's (loyalty.reports' LIFT_WINDOW) with Fisher's exact test (loyalty.chance): a
difference that chance explains is said to be within chance, not sold as a lift.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loyalty import chance
from loyalty.broadcasts import DRAFT
from loyalty.outbox import CANCELLED, FAILED, HOLDOUT, PENDING, SENDING, SENT, UNREACHABLE
from loyalty.periods import Period
from loyalty.reports import Lift, coupon_campaign, coupon_figures, outbox_figures
from models.tables import Campaign

KIND_ORDER = ("birthday", "second_visit", "winback", "new_dish", "holiday")
BROADCAST = "broadcast"


def kind_of(kind: str) -> str:
    """The row a campaign kind belongs to: every win-back step is "winback"."""
    return "winback" if kind.startswith("winback_") else kind


@dataclass(slots=True, kw_only=True)
class KindRow:
    kind: str
    """A KIND_ORDER key, "broadcast", or another job's kind as it is."""
    name: str = ""
    """A broadcast's name."""
    first_at: datetime
    campaigns: int = 0
    audience: int = 0
    """Everyone the campaigns chose, the holdout included."""
    sent: int = 0
    """Handed to Telegram (delivered, failed, or the person had blocked the bot)."""
    delivered: int = 0
    waiting: int = 0
    holdout: int = 0
    coupons_issued: int = 0
    coupons_redeemed: int = 0
    revenue: Decimal = Decimal(0)
    """The bills of the redeemed coupons."""
    lift: Lift = field(default_factory=Lift)

    @property
    def p_value(self) -> float | None:
        """Fisher's exact test of came-back messaged against holdout; None without both."""
        lift = self.lift
        if not lift.messaged or not lift.holdout:
            return None
        return chance.two_sided_p(
            lift.messaged_returned,
            lift.messaged - lift.messaged_returned,
            lift.holdout_returned,
            lift.holdout - lift.holdout_returned,
        )

    @property
    def within_chance(self) -> bool | None:
        p = self.p_value
        return None if p is None else p >= chance.SIGNIFICANT


def _add_lift(total: Lift, more: Lift) -> Lift:
    until = [u for u in (total.measuring_until, more.measuring_until) if u is not None]
    return Lift(
        messaged=total.messaged + more.messaged,
        messaged_returned=total.messaged_returned + more.messaged_returned,
        holdout=total.holdout + more.holdout,
        holdout_returned=total.holdout_returned + more.holdout_returned,
        measuring_until=max(until) if until else None,
    )


def _order(row: KindRow) -> tuple[int, datetime, str]:
    rank = KIND_ORDER.index(row.kind) if row.kind in KIND_ORDER else len(KIND_ORDER)
    if row.kind == BROADCAST:
        rank += 1
    return rank, row.first_at, row.kind


async def by_kind(session: AsyncSession, *, period: Period, now: datetime) -> list[KindRow]:
    """The rows of campaigns created in `period`, figures as of `now`; kinds first (in
    KIND_ORDER), then broadcasts oldest first, then any other kind. Four statements."""
    campaigns = (
        (
            await session.execute(
                select(Campaign)
                .where(
                    col(Campaign.created_at) >= period.start,
                    col(Campaign.created_at) < period.end,
                    col(Campaign.status) != DRAFT,
                    or_(col(Campaign.status) != CANCELLED, col(Campaign.scheduled_at).is_not(None)),
                )
                .order_by(col(Campaign.created_at), col(Campaign.id))
            )
        )
        .scalars()
        .all()
    )
    ids = [c.id for c in campaigns if c.id is not None]
    outbox = await outbox_figures(session, campaign_ids=ids, now=now)
    coupons = await coupon_figures(
        session, keys=[coupon_campaign(c.kind, c.period) for c in campaigns]
    )
    rows: dict[str, KindRow] = {}
    for campaign in campaigns:
        assert campaign.id is not None
        counts, lift = outbox.get(campaign.id, ({}, Lift()))
        if not sum(counts.values()):
            continue  # nobody in the audience: nothing to report
        kind = kind_of(campaign.kind)
        key = f"{kind}:{campaign.id}" if kind == BROADCAST else kind
        row = rows.setdefault(
            key, KindRow(kind=kind, name=campaign.name, first_at=campaign.created_at)
        )
        issued, redeemed, revenue = coupons.get(
            coupon_campaign(campaign.kind, campaign.period), (0, 0, Decimal(0))
        )
        row.campaigns += 1
        row.audience += sum(counts.values())
        row.delivered += counts.get(SENT, 0)
        row.sent += counts.get(SENT, 0) + counts.get(FAILED, 0) + counts.get(UNREACHABLE, 0)
        row.waiting += counts.get(PENDING, 0) + counts.get(SENDING, 0)
        row.holdout += counts.get(HOLDOUT, 0)
        row.coupons_issued += issued
        row.coupons_redeemed += redeemed
        row.revenue += revenue
        row.lift = _add_lift(row.lift, lift)
    return sorted(rows.values(), key=_order)
