"""Automated offers that fit the diner, and no spend on the unmoved (DESIGN §4 "Lapse").

**Fitting.** An automated coupon's minimum spend never exceeds the member's typical bill (the
median of what they paid per sitting): the template says how to adapt — ``lower_minimum`` to
that bill (rounded down to a whole unit), or ``smaller``: issue its `smaller` template instead
(which is lowered in turn if it still asks too much). Its validity reaches at least the
member's next expected visit (loyalty.lifecycle.next_expected_visit) plus
``ladder.validity_slack_days``. What was changed is written on the coupon (`Coupon.adapted`).

**The unmoved.** Every automated coupon offer a member receives adds one to
``Member.unanswered_offers``; redeeming any coupon (or, with ``ladder.offer_answered_by =
"visit"``, coming back while an automated coupon is valid) sets it back to 0. From
``ladder.max_unanswered_offers`` on, automated campaigns send that member care messages only:
no coupon until they answer one. The count runs across win-back episodes.

**Status remembered.** Automated campaigns treat a member as the highest tier they held within
``tiers.treatment_lookback_days`` (:func:`treatment_tiers`): a loyal member who pauses and is
moved down by the window is still treated as loyal — care, never a discount (seed 000).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_FLOOR, Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loyalty import lifecycle
from loyalty.policy import CouponTemplate, Policy
from models import queries
from models.tables import Coupon, Member, TierChange

_MAX_VALID_DAYS = 365


@dataclass(frozen=True, slots=True)
class Fitted:
    """The terms to issue: the template key, its (adapted) terms and what was adapted."""

    key: str
    terms: CouponTemplate
    adapted: str = ""


def median_bill(amounts: Sequence[Decimal]) -> Decimal | None:
    """The typical bill: the median of what the member paid per sitting (None: no bill yet)."""
    paid = [a for a in amounts if a > 0]
    return statistics.median(paid) if paid else None


def fit(
    policy: Policy,
    *,
    key: str,
    terms: CouponTemplate,
    median: Decimal | None,
    next_visit: datetime | None,
    now: datetime,
    timezone: str,
) -> Fitted:
    """`terms` adapted to a member whose typical bill is `median` and whose next visit is
    expected at `next_visit` (see the module doc)."""
    notes: list[str] = []
    if median is not None:
        while terms.min_spend > median and terms.adapt == "smaller" and terms.smaller:
            smaller = policy.coupons.templates[terms.smaller]
            notes.append(f"template {key}->{terms.smaller}")
            key, terms = terms.smaller, smaller
        if terms.min_spend > median:
            lowered = median.quantize(Decimal(1), rounding=ROUND_FLOOR)
            notes.append(f"min_spend {terms.min_spend}->{lowered}")
            terms = replace(terms, min_spend=lowered)
    if next_visit is not None:
        zone = ZoneInfo(timezone)
        reach = next_visit + timedelta(days=policy.ladder.validity_slack_days)
        days = (reach.astimezone(zone).date() - now.astimezone(zone).date()).days
        days = min(days, _MAX_VALID_DAYS)
        if days > terms.valid_days:
            notes.append(f"valid_days {terms.valid_days}->{days}")
            terms = replace(terms, valid_days=days)
    return Fitted(key, terms, "; ".join(notes))


async def fitted_for(
    session: AsyncSession,
    *,
    policy: Policy,
    member: Member,
    key: str,
    terms: CouponTemplate,
    now: datetime,
    timezone: str,
) -> Fitted:
    """`terms` fitted to `member` (their bills are read: one query)."""
    assert member.id is not None
    history = await queries.visit_history(session, member_id=member.id)
    next_visit = None
    if member.last_visit_at is not None and member.expected_interval_days:
        next_visit = lifecycle.next_expected_visit(
            last_visit=member.last_visit_at,
            interval_days=member.expected_interval_days,
            now=now,
        )
    return fit(
        policy,
        key=key,
        terms=terms,
        median=median_bill([amount for _, amount in history]),
        next_visit=next_visit,
        now=now,
        timezone=timezone,
    )


def unmoved(policy: Policy, unanswered_offers: int) -> bool:
    """Past the policy's limit: care messages only, no coupons."""
    return unanswered_offers >= policy.ladder.max_unanswered_offers


async def offered(session: AsyncSession, *, member: Member) -> None:
    """An automated coupon offer went to `member` (unanswered until they answer one)."""
    member.unanswered_offers += 1


async def answered(session: AsyncSession, *, member_id: int) -> None:
    """The member answered an offer: the count of unanswered ones starts again."""
    await session.execute(
        update(Member)
        .where(col(Member.id) == member_id, col(Member.unanswered_offers) > 0)
        .values(unanswered_offers=0)
        .execution_options(synchronize_session="fetch")
    )


async def answered_by_visit(
    session: AsyncSession, *, policy: Policy, member: Member, now: datetime
) -> bool:
    """With offer_answered_by = "visit": a visit while an automated coupon is valid answers the
    offers (one query, and only for a member with unanswered offers)."""
    if policy.ladder.offer_answered_by != "visit" or member.unanswered_offers == 0:
        return False
    assert member.id is not None
    found = await session.scalar(
        select(col(Coupon.id))
        .where(
            col(Coupon.member_id) == member.id,
            col(Coupon.campaign).is_not(None),
            col(Coupon.issued_by).is_(None),  # automated: no person issued it
            col(Coupon.campaign).not_in(("gift", "points")),
            col(Coupon.issued_at) <= now,
            col(Coupon.valid_until) >= now,
        )
        .limit(1)
    )
    if found is None:
        return False
    member.unanswered_offers = 0
    return True


async def treatment_tiers(
    session: AsyncSession, *, policy: Policy, members: Sequence[tuple[int, str]], now: datetime
) -> dict[int, str]:
    """{member id: the highest tier held within tiers.treatment_lookback_days} for
    (member id, current tier) pairs: one query over their tier changes."""
    rank = policy.tiers.rank
    best = dict(members)
    if not members or policy.tiers.treatment_lookback_days == 0:
        return best
    since = now - timedelta(days=policy.tiers.treatment_lookback_days)
    rows = await session.execute(
        select(col(TierChange.member_id), col(TierChange.from_tier), col(TierChange.to_tier)).where(
            and_(col(TierChange.member_id).in_(list(best)), col(TierChange.at) >= since)
        )
    )
    for member_id, before, after in rows.all():
        for held in (before, after):  # the tier left was held up to the change
            if rank(held) > rank(best[member_id]):
                best[member_id] = held
    return best
