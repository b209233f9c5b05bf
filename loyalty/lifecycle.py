"""Each member's own rhythm: the expected interval between visits, the due dates it gives, and
the lifecycle stage (newcomer, returning, active, slowing, lapsed, lost; plus "rising").

Pure functions over plain values; :mod:`loyalty.refresh` does the same for every member at once
in SQL, and :func:`after_visit` is what a payment applies to one member.

**Expected interval.** A member with n ≥ 1 gaps between visits, whose own mean gap is *own*,
in a cohort (acquisition channel × tier) whose typical gap is *c*, is expected back after

    E = (n·own + k·c) / (n + k)        k = lapse.shrinkage_visits

so with one gap the cohort weighs four times as much as the member, and with forty gaps the
member weighs ten times as much as the cohort. A newcomer (one visit, no gap yet) is expected
after the cohort's typical time from a first to a second visit.

**Due dates.** From the last visit: slowing at slowing_factor·E, lapsed (the win-back ladder
starts) at lapsed_factor·E, lost at lost_factor·E.

**A visit never brings a due date forward.** Quick returns shrink E, so without care a member
who came back early would be due sooner than before they came. After a visit with gap g the
interval is kept at least E_before − g / lost_factor (the *floor*): then for every factor
f ≤ lost_factor, new visit + f·E_after ≥ old visit + f·E_before. The floor is stored, so the
nightly refresh (same norms) gives the same dates.
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
    first_gap_days: Decimal | None = None
    expected_interval_days: Decimal | None = None
    interval_floor_days: Decimal = _ZERO
    rising: bool = False
    due: DueDates | None = None


def days_between(earlier: datetime, later: datetime) -> Decimal:
    return Decimal(round((later - earlier).total_seconds() * 1_000_000)) / (DAY_SECONDS * 1_000_000)


def quantize_days(days: Decimal, *, up: bool = False) -> Decimal:
    return days.quantize(_PLACES, rounding=ROUND_CEILING if up else ROUND_HALF_UP)


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
    """The member's expected interval, or None before their first visit."""
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


def gaps_of(visits: Sequence[datetime]) -> list[Decimal]:
    return [days_between(a, b) for a, b in itertools.pairwise(sorted(visits))]


def after_visit(
    policy: Policy, rhythm: Rhythm, *, at: datetime, norms: Norms, gaps: Sequence[Decimal] = ()
) -> Rhythm:
    """The rhythm after a counted visit at `at` (later than every earlier visit).

    `norms` are the cohort's for the member's tier after this visit; `gaps` every gap between
    the member's visits including this one (for the rising flag; empty: recomputed from nothing,
    so the flag is off).
    """
    gap_count, mean, first_gap, floor = rhythm.gap_count, rhythm.gap_mean_days, None, _ZERO
    first_gap = rhythm.first_gap_days
    if rhythm.last_visit_at is not None:
        gap = days_between(rhythm.last_visit_at, at)
        mean = quantize_days((rhythm.gap_mean_days * gap_count + gap) / (gap_count + 1))
        gap_count += 1
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
        own_days=mean,
        norms=norms,
        floor_days=floor,
    )
    assert interval is not None
    return Rhythm(
        visit_count=visit_count,
        last_visit_at=at,
        gap_count=gap_count,
        gap_mean_days=mean,
        first_gap_days=first_gap,
        expected_interval_days=interval,
        interval_floor_days=floor,
        rising=is_rising(policy, gaps),
        due=due_dates(policy, last_visit=at, interval_days=interval),
    )


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
    interval = expected_interval(
        policy, visit_count=len(times), gap_count=len(gaps), own_days=mean, norms=norms
    )
    assert interval is not None
    return Rhythm(
        visit_count=len(times),
        last_visit_at=times[-1],
        gap_count=len(gaps),
        gap_mean_days=mean,
        first_gap_days=quantize_days(gaps[0]) if gaps else None,
        expected_interval_days=interval,
        rising=is_rising(policy, gaps),
        due=due_dates(policy, last_visit=times[-1], interval_days=interval),
    )


def with_norms(policy: Policy, rhythm: Rhythm, *, norms: Norms) -> Rhythm:
    """The same member under new cohort norms (what the nightly refresh does)."""
    if rhythm.last_visit_at is None:
        return rhythm
    interval = expected_interval(
        policy,
        visit_count=rhythm.visit_count,
        gap_count=rhythm.gap_count,
        own_days=rhythm.gap_mean_days,
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
