"""Each member's own rhythm: the expected interval between visits, the due dates it gives, the
lifecycle stage (newcomer, returning, active, slowing, lapsed, lost) and the turning points
(rising, cooling).

Pure functions over plain values; :mod:`loyalty.refresh` does the same for every member at once
in SQL, and :func:`after_visit` is what a payment applies to one member.

**Expected interval.** A member with gaps g₁ … gₙ between visits (gₙ the most recent), in a
cohort (acquisition channel × tier) whose typical gap is *c*, is expected back after

    wᵢ  = 2^(−(n − i) / h)                       h = lapse.half_life_visits
    own = Σ wᵢ·gᵢ / Σ wᵢ                         the member's own gap, recent gaps weigh more
    E   = (n·own + k·c) / (n + k)                k = lapse.shrinkage_visits
    E   = max(E, floor)                          (the floor: see below)

With the presets (h = 2, k = 1) the latest gap weighs twice as much as the one two visits
earlier, and the cohort weighs as much as one gap: half of E after one gap, a third after two,
a quarter after three — from the second or third gap on, the member's own rhythm dominates.
*c* is the cohort's median gap; a cohort with fewer than lapse.min_cohort_members members
borrows the tier's norm across channels, then everyone's, and only then the policy's
default_interval_days. A newcomer (one visit, no gap yet) is expected after the cohort's
typical time from a first to a second visit. Own, E and the floor are kept to the thousandth
of a day (half up; the floor rounded up). E always lies between the smallest and the largest
of the gaps and cohort norms it was made from.

**Due dates.** From the last visit: slowing at slowing_factor·E, lapsed (the win-back ladder
starts) at lapsed_factor·E, lost at lost_factor·E. The *next expected visit* is the first of
last visit + E, + 2E, … that is still ahead (what an offer's validity must reach).

**A visit never brings a due date forward.** Quick returns shrink E, so without care a member
who came back early would be due sooner than before they came. After a visit with gap g the
interval is kept at least E_before − g / lost_factor (the *floor*): then for every factor
f ≤ lost_factor, new visit + f·E_after ≥ old visit + f·E_before. The floor is stored, so the
nightly refresh (same norms) gives the same dates.

**Turning points** (seed 004: the reversal is the moment to act). After a visit the member is
*cooling* when the gap just ended is longer than lapse.cooling_ratio × the gap before it;
otherwise *rising* when the last two gaps average at most lapse.rising_ratio × the gaps before
them (three gaps or more); otherwise neither. A member who is not cooling and has two gaps or
more also gets a *cooling date*: last visit + cooling_ratio × the last gap, when that comes
before they are slowing. If no visit comes by then, the gap now running is longer than their
recent rhythm: they turn cooling then (the nightly refresh marks it), before they are overdue.
`turn_at` is when the turn last changed; campaigns act on that change.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from enum import StrEnum

from loyalty.policy import Policy

DAY_SECONDS = Decimal(86400)
_PLACES = Decimal("0.001")
_ZERO = Decimal(0)
_TWO = Decimal(2)


class Stage(StrEnum):
    NEWCOMER = "newcomer"
    RETURNING = "returning"
    ACTIVE = "active"
    SLOWING = "slowing"
    LAPSED = "lapsed"
    LOST = "lost"

    @property
    def overdue_rank(self) -> int:
        """0 while on rhythm, then 1 slowing, 2 lapsed, 3 lost."""
        return _OVERDUE_RANK.get(self, 0)


_OVERDUE_RANK = {Stage.SLOWING: 1, Stage.LAPSED: 2, Stage.LOST: 3}


class Turn(StrEnum):
    """A member's turning point (stored on the member; "" when neither)."""

    NONE = ""
    RISING = "rising"
    COOLING = "cooling"


@dataclass(frozen=True, slots=True)
class Norms:
    """The cohort's typical rhythm for one member, in days."""

    gap_days: Decimal
    """Typical gap between visits of members of the same channel and tier."""
    first_return_days: Decimal
    """Typical time from a first visit to a second, for the same channel."""


@dataclass(frozen=True, slots=True)
class DueDates:
    slowing: datetime
    lapsed: datetime
    lost: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Rhythm:
    """What the lifecycle keeps on a member (the columns of the same names)."""

    visit_count: int = 0
    last_visit_at: datetime | None = None
    gap_count: int = 0
    gap_mean_days: Decimal = _ZERO
    gap_weighted_days: Decimal = _ZERO
    """The member's own typical gap, recent gaps weighing more (*own* in the module doc)."""
    first_gap_days: Decimal | None = None
    expected_interval_days: Decimal | None = None
    interval_floor_days: Decimal = _ZERO
    turn: Turn = Turn.NONE
    turn_at: datetime | None = None
    cooling_due_at: datetime | None = None
    due: DueDates | None = None

    @property
    def rising(self) -> bool:
        return self.turn is Turn.RISING


def days_between(earlier: datetime, later: datetime) -> Decimal:
    return Decimal(round((later - earlier).total_seconds() * 1_000_000)) / (DAY_SECONDS * 1_000_000)


def quantize_days(days: Decimal, *, up: bool = False) -> Decimal:
    return days.quantize(_PLACES, rounding=ROUND_CEILING if up else ROUND_HALF_UP)


def recency_weights(policy: Policy, count: int) -> list[Decimal]:
    """wᵢ = 2^(−(n − i) / h) for i = 1 … n: the latest gap weighs 1."""
    h = Decimal(str(policy.lapse.half_life_visits))
    return [_TWO ** (Decimal(i - count) / h) for i in range(1, count + 1)]


def weighted_gap(policy: Policy, gaps: Sequence[Decimal]) -> Decimal:
    """The member's own typical gap: Σ wᵢ·gᵢ / Σ wᵢ (0 without gaps), to the thousandth."""
    if not gaps:
        return _ZERO
    weights = recency_weights(policy, len(gaps))
    total = sum((w * g for w, g in zip(weights, gaps, strict=True)), _ZERO)
    return quantize_days(total / sum(weights, _ZERO))


def blend(policy: Policy, *, gap_count: int, own_days: Decimal, cohort_days: Decimal) -> Decimal:
    """(n·own + k·cohort) / (n + k), in days, to the thousandth."""
    k = policy.lapse.shrinkage_visits
    if gap_count + k == 0:
        return quantize_days(cohort_days)
    return quantize_days((gap_count * own_days + k * cohort_days) / (gap_count + k))


def expected_interval(
    policy: Policy,
    *,
    visit_count: int,
    gap_count: int,
    own_days: Decimal,
    norms: Norms,
    floor_days: Decimal = _ZERO,
) -> Decimal | None:
    """The member's expected interval, or None before their first visit (`own_days`: the
    recency-weighted own gap)."""
    if visit_count <= 0:
        return None
    if gap_count == 0:
        interval = quantize_days(norms.first_return_days)
    else:
        interval = blend(policy, gap_count=gap_count, own_days=own_days, cohort_days=norms.gap_days)
    return max(interval, floor_days)


def after_factor(start: datetime, *, factor: float, interval_days: Decimal) -> datetime:
    """`start` + factor × interval, to the microsecond (rounded down)."""
    micros = Decimal(str(factor)) * interval_days * DAY_SECONDS * 1_000_000
    return start + timedelta(microseconds=int(micros))


def due_dates(policy: Policy, *, last_visit: datetime, interval_days: Decimal) -> DueDates:
    lapse = policy.lapse
    return DueDates(
        slowing=after_factor(last_visit, factor=lapse.slowing_factor, interval_days=interval_days),
        lapsed=after_factor(last_visit, factor=lapse.lapsed_factor, interval_days=interval_days),
        lost=after_factor(last_visit, factor=lapse.lost_factor, interval_days=interval_days),
    )


def next_expected_visit(*, last_visit: datetime, interval_days: Decimal, now: datetime) -> datetime:
    """The first of last visit + E, + 2E, … that is after `now`."""
    step = after_factor(last_visit, factor=1.0, interval_days=interval_days) - last_visit
    if step <= timedelta(0):
        return now
    periods = max(1, (now - last_visit) // step + 1)
    return last_visit + periods * step


def stage(policy: Policy, *, visit_count: int, due: DueDates | None, now: datetime) -> Stage:
    if due is not None:
        if now >= due.lost:
            return Stage.LOST
        if now >= due.lapsed:
            return Stage.LAPSED
        if now >= due.slowing:
            return Stage.SLOWING
    if visit_count <= 1:
        return Stage.NEWCOMER
    if visit_count < policy.lapse.active_min_visits:
        return Stage.RETURNING
    return Stage.ACTIVE


def is_rising(policy: Policy, gaps: Sequence[Decimal]) -> bool:
    """The last two gaps average at most rising_ratio of the gaps before them (3+ gaps)."""
    if len(gaps) < 3:
        return False
    recent = (gaps[-1] + gaps[-2]) / 2
    earlier = sum(gaps[:-2], _ZERO) / (len(gaps) - 2)
    return recent <= Decimal(str(policy.lapse.rising_ratio)) * earlier


def is_lengthening(policy: Policy, gaps: Sequence[Decimal]) -> bool:
    """The gap just ended is longer than cooling_ratio × the one before it."""
    if len(gaps) < 2:
        return False
    return gaps[-1] > Decimal(str(policy.lapse.cooling_ratio)) * gaps[-2]


def turn_of(policy: Policy, gaps: Sequence[Decimal]) -> Turn:
    """The turning point after a visit: cooling, else rising, else none."""
    if is_lengthening(policy, gaps):
        return Turn.COOLING
    if is_rising(policy, gaps):
        return Turn.RISING
    return Turn.NONE


def cooling_date(
    policy: Policy, *, gaps: Sequence[Decimal], turn: Turn, last_visit: datetime, due: DueDates
) -> datetime | None:
    """When the gap now running outgrows the recent rhythm (see the module doc), or None."""
    if turn is Turn.COOLING or len(gaps) < 2:
        return None
    at = after_factor(last_visit, factor=policy.lapse.cooling_ratio, interval_days=gaps[-1])
    return at if at < due.slowing else None


def turned(rhythm: Rhythm, *, now: datetime) -> Rhythm:
    """The member as of `now`: cooling once their cooling date has passed without a visit."""
    due = rhythm.cooling_due_at
    if due is None or due > now or rhythm.turn is Turn.COOLING:
        return rhythm
    return replace(rhythm, turn=Turn.COOLING, turn_at=due)


def gaps_of(visits: Sequence[datetime]) -> list[Decimal]:
    return [days_between(a, b) for a, b in itertools.pairwise(sorted(visits))]


def _with_turn(policy: Policy, rhythm: Rhythm, *, gaps: Sequence[Decimal], at: datetime) -> Rhythm:
    turn = turn_of(policy, gaps)
    assert rhythm.due is not None
    assert rhythm.last_visit_at is not None
    return replace(
        rhythm,
        turn=turn,
        turn_at=rhythm.turn_at if turn is rhythm.turn else at,
        cooling_due_at=cooling_date(
            policy, gaps=gaps, turn=turn, last_visit=rhythm.last_visit_at, due=rhythm.due
        ),
    )


def after_visit(
    policy: Policy, rhythm: Rhythm, *, at: datetime, norms: Norms, gaps: Sequence[Decimal] = ()
) -> Rhythm:
    """The rhythm after a counted visit at `at` (later than every earlier visit).

    `norms` are the cohort's for the member's tier after this visit; `gaps` every gap between
    the member's visits including this one (the recency weights and the turning point are made
    from them; empty: the weighted gap is carried on from the stored one).
    """
    gap_count, mean, floor = rhythm.gap_count, rhythm.gap_mean_days, _ZERO
    first_gap, weighted = rhythm.first_gap_days, rhythm.gap_weighted_days
    if rhythm.last_visit_at is not None:
        gap = days_between(rhythm.last_visit_at, at)
        mean = quantize_days((rhythm.gap_mean_days * gap_count + gap) / (gap_count + 1))
        gap_count += 1
        weighted = weighted_gap(policy, gaps) if gaps else _carried(policy, rhythm, gap)
        if first_gap is None:
            first_gap = quantize_days(gap)
        if rhythm.expected_interval_days is not None:
            floor = quantize_days(
                rhythm.expected_interval_days - gap / Decimal(str(policy.lapse.lost_factor)),
                up=True,
            )
            floor = max(floor, _ZERO)
    visit_count = rhythm.visit_count + 1
    interval = expected_interval(
        policy,
        visit_count=visit_count,
        gap_count=gap_count,
        own_days=weighted,
        norms=norms,
        floor_days=floor,
    )
    assert interval is not None
    after = replace(
        rhythm,
        visit_count=visit_count,
        last_visit_at=at,
        gap_count=gap_count,
        gap_mean_days=mean,
        gap_weighted_days=weighted,
        first_gap_days=first_gap,
        expected_interval_days=interval,
        interval_floor_days=floor,
        due=due_dates(policy, last_visit=at, interval_days=interval),
    )
    return _with_turn(policy, after, gaps=gaps, at=at)


def _carried(policy: Policy, rhythm: Rhythm, gap: Decimal) -> Decimal:
    """The weighted gap with one more gap, from the stored one (Σw over n gaps is a geometric
    sum, so own·Σw recovers Σ wᵢ·gᵢ)."""
    weights = recency_weights(policy, rhythm.gap_count + 1)
    older = sum(weights[:-1], _ZERO)
    return quantize_days((gap + rhythm.gap_weighted_days * older) / (older + 1))


def rebuilt(policy: Policy, visits: Sequence[datetime], *, norms: Norms) -> Rhythm:
    """The rhythm from a member's standing visits alone (after a refund voids one).

    The floor of the last visit is not recoverable from the visits, so it starts from zero: a
    refund may bring due dates forward, as it takes a visit away.
    """
    times = sorted(visits)
    if not times:
        return Rhythm()
    gaps = gaps_of(times)
    mean = quantize_days(sum(gaps, _ZERO) / len(gaps)) if gaps else _ZERO
    weighted = weighted_gap(policy, gaps)
    interval = expected_interval(
        policy, visit_count=len(times), gap_count=len(gaps), own_days=weighted, norms=norms
    )
    assert interval is not None
    rhythm = Rhythm(
        visit_count=len(times),
        last_visit_at=times[-1],
        gap_count=len(gaps),
        gap_mean_days=mean,
        gap_weighted_days=weighted,
        first_gap_days=quantize_days(gaps[0]) if gaps else None,
        expected_interval_days=interval,
        due=due_dates(policy, last_visit=times[-1], interval_days=interval),
    )
    return _with_turn(policy, rhythm, gaps=gaps, at=times[-1])


def with_norms(policy: Policy, rhythm: Rhythm, *, norms: Norms) -> Rhythm:
    """The same member under new cohort norms (what the nightly refresh does)."""
    if rhythm.last_visit_at is None:
        return rhythm
    interval = expected_interval(
        policy,
        visit_count=rhythm.visit_count,
        gap_count=rhythm.gap_count,
        own_days=rhythm.gap_weighted_days,
        norms=norms,
        floor_days=rhythm.interval_floor_days,
    )
    assert interval is not None
    return replace(
        rhythm,
        expected_interval_days=interval,
        due=due_dates(policy, last_visit=rhythm.last_visit_at, interval_days=interval),
    )


def default_norms(policy: Policy) -> Norms:
    days = Decimal(policy.lapse.default_interval_days)
    return Norms(gap_days=days, first_return_days=days)
