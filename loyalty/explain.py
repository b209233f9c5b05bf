"""Why a member stands where they stand: tier against the thresholds, gaps, cohort, interval,
due dates. `regulars members explain <id>` prints it; the manager console shows the same."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loyalty import grades, lifecycle, offers, refresh, tiers
from loyalty.errors import DomainError
from loyalty.lifecycle import DueDates, Stage, Turn
from loyalty.policy import Policy
from models import queries
from models.tables import CohortNorm, Member, Store


class UnknownMember(DomainError):
    pass


@dataclass(frozen=True, slots=True)
class Condition:
    key: str
    have: int | Decimal
    need: int | Decimal

    @property
    def met(self) -> bool:
        return Decimal(self.have) >= Decimal(self.need)


@dataclass(frozen=True, slots=True)
class RungCheck:
    tier: str
    match: str
    conditions: tuple[Condition, ...]
    met: bool


@dataclass(frozen=True, slots=True)
class NormInfo:
    days: Decimal
    members: int
    source: str


@dataclass(frozen=True, slots=True)
class Explanation:
    member_id: int
    display_name: str
    channel: str
    enrolled_at: datetime
    timezone: str
    currency: str
    stored_tier: str
    status: tiers.TierStatus
    referrals_in_window: int
    suggestions_in_window: int
    rungs: tuple[RungCheck, ...]
    visit_count: int
    gaps: tuple[Decimal, ...]
    gap_mean_days: Decimal
    first_gap_days: Decimal | None
    cohort_gap: NormInfo
    cohort_first_return: NormInfo
    shrinkage: int
    floor_days: Decimal
    expected_interval_days: Decimal | None
    last_visit_at: datetime | None
    due: DueDates | None
    stage: Stage
    rising: bool
    gap_weighted_days: Decimal
    weights: tuple[Decimal, ...]
    """The recency weight of each gap in `gaps`, oldest first (the latest weighs 1)."""
    half_life: float
    turn: Turn
    turn_at: datetime | None
    cooling_due_at: datetime | None
    next_visit: datetime | None
    """The member's next expected visit (what an automated offer's validity reaches)."""
    unanswered_offers: int
    unmoved: bool
    """Past ladder.max_unanswered_offers: automated campaigns send care only."""
    treatment_tier: str
    """The tier automated campaigns treat them as (the highest within the look-back)."""
    grade: grades.Grade | None = None
    """The stored tier as a grade: a manager's (with its reason and end date) or the figures',
    and the member's labels."""


async def _norm(
    session: AsyncSession, *, kind: str, channel: str, tier: str, policy: Policy
) -> NormInfo:
    row = await session.scalar(
        select(CohortNorm).where(
            col(CohortNorm.kind) == kind,
            col(CohortNorm.channel) == channel,
            col(CohortNorm.tier) == tier,
        )
    )
    if row is None:
        return NormInfo(Decimal(policy.lapse.default_interval_days), 0, "default")
    return NormInfo(row.gap_days, row.members, row.source)


def _rungs(
    policy: Policy, status: tiers.TierStatus, *, referrals: int, suggestions: int
) -> tuple[RungCheck, ...]:
    have: dict[str, int | Decimal] = {
        "visits": status.visits_in_window,
        "spend": status.spend_in_window,
        "referrals": referrals,
        "suggestions": suggestions,
    }
    return tuple(
        RungCheck(
            tier=rung.name,
            match=rung.match,
            conditions=tuple(Condition(key, have[key], need) for key, need in rung.conditions()),
            met=rung.met_by(
                visits=status.visits_in_window,
                spend=status.spend_in_window,
                referrals=referrals,
                suggestions=suggestions,
            ),
        )
        for rung in policy.tiers.counted  # as window totals (monthly averages multiplied)
    )


async def explain(
    session: AsyncSession, *, member_id: int, policy: Policy, now: datetime
) -> Explanation:
    member = await session.get(Member, member_id)
    if member is None:
        raise UnknownMember(str(member_id))
    assert member.id is not None
    store = await session.get(Store, member.store_id)
    assert store is not None
    history = await queries.visit_history(session, member_id=member.id)
    status = await tiers.status_of(session, member=member, policy=policy, now=now, history=history)
    since = now - timedelta(days=policy.tiers.window_days)
    referrals = await queries.count_referrals(session, member_id=member.id, since=since)
    suggestions = await queries.count_adopted_suggestions(session, member_id=member.id, since=since)
    rungs = _rungs(policy, status, referrals=referrals, suggestions=suggestions)
    rhythm = lifecycle.turned(refresh.rhythm_of(member), now=now)
    gaps = tuple(lifecycle.gaps_of([at for at, _ in history]))
    return Explanation(
        member_id=member.id,
        display_name=member.display_name,
        channel=member.acquisition_channel,
        enrolled_at=member.enrolled_at,
        timezone=store.timezone,
        currency=store.currency,
        stored_tier=member.tier,
        status=status,
        referrals_in_window=referrals,
        suggestions_in_window=suggestions,
        rungs=rungs,
        visit_count=member.visit_count,
        gaps=gaps,
        gap_mean_days=member.gap_mean_days,
        first_gap_days=member.first_gap_days,
        cohort_gap=await _norm(
            session,
            kind=refresh.GAP,
            channel=member.acquisition_channel,
            tier=member.tier,
            policy=policy,
        ),
        cohort_first_return=await _norm(
            session,
            kind=refresh.FIRST_RETURN,
            channel=member.acquisition_channel,
            tier=refresh.ANY_TIER,
            policy=policy,
        ),
        shrinkage=policy.lapse.shrinkage_visits,
        floor_days=member.interval_floor_days,
        expected_interval_days=member.expected_interval_days,
        last_visit_at=member.last_visit_at,
        due=rhythm.due,
        stage=lifecycle.stage(policy, visit_count=member.visit_count, due=rhythm.due, now=now),
        rising=rhythm.rising,
        gap_weighted_days=member.gap_weighted_days,
        weights=tuple(lifecycle.recency_weights(policy, len(gaps))),
        half_life=policy.lapse.half_life_visits,
        turn=rhythm.turn,
        turn_at=rhythm.turn_at,
        cooling_due_at=rhythm.cooling_due_at,
        next_visit=_next_visit(member, now=now),
        unanswered_offers=member.unanswered_offers,
        unmoved=offers.unmoved(policy, member.unanswered_offers),
        treatment_tier=(
            await offers.treatment_tiers(
                session, policy=policy, members=[(member.id, member.tier)], now=now
            )
        )[member.id],
        grade=grades.grade_of(member, now=now),
    )


def _next_visit(member: Member, *, now: datetime) -> datetime | None:
    if member.last_visit_at is None or member.expected_interval_days is None:
        return None
    return lifecycle.next_expected_visit(
        last_visit=member.last_visit_at, interval_days=member.expected_interval_days, now=now
    )
