"""Tiers: where a member stands on the policy's ladder, and what it takes to climb one rung.

:func:`assess` is a pure function over plain values; :func:`status_of` gathers a member's
counted visits from the database and calls it.

The window is trailing and closed at both ends: a visit counts while it is at most
``tiers.window_days`` old, so a visit exactly ``window_days`` ago still counts at that instant and
is gone a moment later. A member stands on the highest rung they meet — every threshold (visits,
spend, referrals, adopted suggestions within the window), or any one with ``match = "any"``; the
first rung is the floor. The thresholds are compared as window totals: ``tiers.per = "month"``
makes the policy's figures monthly averages (×window_days/30) and ``tiers.amount_scale``
multiplies spend (``Tiers.counted``). A manager's grade in force (loyalty.grades) is not assessed
here: the callers that move tiers leave it alone.

The **deadline** answers "by when must the missing visits (and spend) happen?". Visits already
made keep counting only until they are ``window_days`` old. Suppose the next rung asks for N
visits and the member has c in the window, oldest first v₀ ≤ v₁ ≤ …. If the k = N − c missing
visits are all made by the time T, the member reaches N at T exactly when every one of the c
visits still counts then, i.e. when T ≤ v₀ + window. So the deadline is v₀ + window: "2 more
visits before 31 Dec" is the day the oldest visit that still counts falls out. When the member
already has more visits than needed (c > N), the first c − N of them may fall out and the deadline
is v_(c−N) + window. Spend works the same way with amounts instead of counts (the oldest visit
whose spend cannot be spared), and the deadline is the earlier of the two. No visit in the window
means nothing to lose: no deadline, only the window ("4 visits within 90 days").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.policy import Policy, Rung
from models import queries
from models.tables import Member

_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class TierInput:
    """What a member has done.

    `visits` are the counted visit times (a payment inside ``fraud.min_minutes_between_visits`` of
    the previous one is not a new visit). `spend_by_visit` is empty (no spend known: zero) or
    holds the amount paid during each visit, in the same order as `visits`. `referrals` and
    `suggestions` are counted by the caller over the same trailing window.
    """

    visits: Sequence[datetime]
    member_since: datetime
    spend_by_visit: Sequence[Decimal] = ()
    referrals: int = 0
    suggestions: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class TierStatus:
    tier: str
    """The key of the tier the member stands on (``policy.tiers.names`` has its display name)."""
    next_tier: str | None
    """The next rung up; None at the top and while the member is not graded yet."""
    visits_needed: int
    spend_needed: Decimal
    referrals_needed: int
    suggestions_needed: int
    deadline: datetime | None
    """By when the missing visits and spend must happen to count together (see the module doc)."""
    graded: bool
    """False while the member is younger than ``tiers.min_membership_days``."""
    graded_from: datetime | None
    """When an ungraded member will be graded; None once graded."""
    visits_in_window: int
    spend_in_window: Decimal
    any_of: bool = False
    """The next rung is reached by meeting any one of the missing thresholds, not all of them."""


def settle(policy: Policy, *, stored: str, strict: str, lenient: str, in_episode: bool) -> str:
    """The tier a member moves to: up at once to `strict` (the tier as of now); down only as
    far as `lenient` allows (the tier counting tiers.downgrade_grace_days more), and never
    while their win-back episode is open (lapsed, not yet lost)."""
    rank = policy.tiers.rank
    if rank(strict) >= rank(stored):
        return strict
    if in_episode:
        return stored
    return lenient if rank(lenient) < rank(stored) else stored


def assess(policy: Policy, inp: TierInput, *, now: datetime, grace_days: int = 0) -> TierStatus:
    """The member's tier as of `now` and what the next one takes (`grace_days`: the window
    reaches that many days further back — the tier a downgrade may go to)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    tiers = policy.tiers
    spends = list(inp.spend_by_visit) if inp.spend_by_visit else [_ZERO] * len(inp.visits)
    if len(spends) != len(inp.visits):
        raise ValueError("spend_by_visit must be empty or hold one amount per visit")
    window = timedelta(days=tiers.window_days + grace_days)
    counted = sorted(
        (visit, spend)
        for visit, spend in zip(inp.visits, spends, strict=True)
        if now - window <= visit <= now
    )
    visits = len(counted)
    spend = sum((amount for _, amount in counted), _ZERO)

    graded_from = inp.member_since + timedelta(days=tiers.min_membership_days)
    if tiers.ungraded_tier is not None and now < graded_from:
        return _nothing_to_reach(
            tiers.ungraded_tier, graded_from=graded_from, visits=visits, spend=spend
        )

    def meets(rung: Rung) -> bool:
        return rung.met_by(
            visits=visits, spend=spend, referrals=inp.referrals, suggestions=inp.suggestions
        )

    ladder = tiers.counted  # thresholds as window totals (monthly averages, amount_scale)
    index = max((i for i, rung in enumerate(ladder) if meets(rung)), default=0)
    current = ladder[index]
    upper = ladder[index + 1] if index + 1 < len(ladder) else None
    if upper is None:
        return _nothing_to_reach(current.name, graded_from=None, visits=visits, spend=spend)
    return TierStatus(
        tier=current.name,
        next_tier=upper.name,
        visits_needed=max(0, upper.min_visits - visits),
        spend_needed=max(_ZERO, upper.min_spend - spend),
        referrals_needed=max(0, upper.min_referrals - inp.referrals),
        suggestions_needed=max(0, upper.min_suggestions - inp.suggestions),
        deadline=_deadline(upper, counted, window),
        graded=True,
        graded_from=None,
        visits_in_window=visits,
        spend_in_window=spend,
        any_of=upper.match == "any" and len(upper.conditions()) > 1,
    )


def _nothing_to_reach(
    tier: str, *, graded_from: datetime | None, visits: int, spend: Decimal
) -> TierStatus:
    """The top tier (`graded_from` None), or the tier of a member not graded yet (graded from
    then): no next tier, nothing needed."""
    return TierStatus(
        tier=tier,
        next_tier=None,
        visits_needed=0,
        spend_needed=_ZERO,
        referrals_needed=0,
        suggestions_needed=0,
        deadline=None,
        graded=graded_from is None,
        graded_from=graded_from,
        visits_in_window=visits,
        spend_in_window=spend,
    )


def _deadline(
    rung: Rung, counted: Sequence[tuple[datetime, Decimal]], window: timedelta
) -> datetime | None:
    """When the first visit the rung cannot spare falls out of the window (oldest first)."""
    candidates: list[datetime] = []
    if rung.min_visits > 0 and counted:
        spare = max(0, len(counted) - rung.min_visits)
        candidates.append(counted[spare][0] + window)
    if rung.min_spend > 0:
        total = sum((amount for _, amount in counted), _ZERO)
        spare_spend = max(_ZERO, total - rung.min_spend)
        dropped = _ZERO
        for visit, amount in counted:
            dropped += amount
            if dropped > spare_spend:
                candidates.append(visit + window)
                break
    if rung.match == "any":  # one condition is enough: the last one to run out is the deadline
        return max(candidates, default=None)
    return min(candidates, default=None)


async def status_of(
    session: AsyncSession,
    *,
    member: Member,
    policy: Policy,
    now: datetime,
    history: Sequence[tuple[datetime, Decimal]] | None = None,
    new_member: bool = False,
    grace_days: int = 0,
) -> TierStatus:
    """A member's tier as of `now`, from their standing (not voided) visits (`history`, when the
    caller has loaded it already), and the referrals and suggestions of the window.

    `new_member`: the member was created in the caller's transaction, so nobody can have named
    them as referrer and they have made no suggestion: neither is counted (two statements less
    on a new diner's first payment)."""
    assert member.id is not None
    if history is None:
        history = await queries.visit_history(session, member_id=member.id)
    since = now - timedelta(days=policy.tiers.window_days + grace_days)
    referrals = suggestions = 0  # counted only where a rung asks for them (a payment's path)
    ladder = policy.tiers.ladder
    if not new_member and any(rung.min_referrals for rung in ladder):
        referrals = await queries.count_referrals(session, member_id=member.id, since=since)
    if not new_member and any(rung.min_suggestions for rung in ladder):
        suggestions = await queries.count_adopted_suggestions(
            session, member_id=member.id, since=since
        )
    inp = TierInput(
        visits=[at for at, _ in history],
        spend_by_visit=[amount for _, amount in history],
        referrals=referrals,
        suggestions=suggestions,
        member_since=member.enrolled_at,
    )
    return assess(policy, inp, now=now, grace_days=grace_days)
