"""The figures of a simulation, per policy against no marketing, from the guests' outcomes.

Incremental figures are paired: the same guests, with the same random draws, under a policy and
under no marketing (common random numbers), so each guest's difference is that policy's effect
on them plus what chance did differently once a message changed their path. The noise of a total
is the spread of the per-guest differences (standard error √n·sd); a total within two of them
is "within noise".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from simulator.engine import ArmResult, GuestOutcome

RETENTION_DAYS = 180
"""Retention curves: how many guests came back within d days of their first visit, d ≤ this,
among the guests who joined at least this long before the end."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Paired:
    total: float
    noise: float
    """Two standard errors of the total (√n · sd of the per-guest differences)."""

    @property
    def within_noise(self) -> bool:
        return abs(self.total) <= self.noise


def paired(policy: list[float], baseline: list[float]) -> Paired:
    diffs = [a - b for a, b in zip(policy, baseline, strict=True)]
    n = len(diffs)
    if n < 2:
        return Paired(total=sum(diffs), noise=0.0)
    mean = sum(diffs) / n
    var = sum((d - mean) ** 2 for d in diffs) / (n - 1)
    return Paired(total=sum(diffs), noise=2.0 * math.sqrt(n * var))


@dataclass(frozen=True, slots=True, kw_only=True)
class Figures:
    label: str
    guests: int
    visits: int
    revenue: Decimal
    incremental_visits: Paired
    incremental_revenue: Paired
    coupons_issued: int
    coupons_redeemed: int
    coupon_cost: Decimal
    returning: int
    incremental_returning: Paired
    marketing_messages: int
    stopped: int
    blocked: int
    loyal_discounted: int
    """Guests of the loyal kind who were issued a discount (win-back, second-visit, promotion…
    coupon): the product should never buy back a loyal guest's visit. Birthday gifts are not
    discounts (see loyal_birthday_gifts)."""
    loyal_redeemed: int
    """Of those, the guests who redeemed such a discount."""
    loyal_birthday_gifts: int = 0
    """Guests of the loyal kind who were given a birthday gift coupon."""

    @property
    def per_coupon(self) -> float | None:
        """Incremental returning guests per coupon issued."""
        if not self.coupons_issued:
            return None
        return self.incremental_returning.total / self.coupons_issued

    @property
    def messages_per_guest(self) -> float:
        return self.marketing_messages / self.guests if self.guests else 0.0

    @property
    def average_ticket(self) -> Decimal:
        return (self.revenue / self.visits).quantize(Decimal("0.01")) if self.visits else Decimal(0)

    @property
    def redemption_rate(self) -> float | None:
        return self.coupons_redeemed / self.coupons_issued if self.coupons_issued else None


def _visits(g: GuestOutcome) -> float:
    return float(len(g.visit_days))


def _returning(g: GuestOutcome) -> float:
    return 1.0 if len(g.visit_days) >= 2 else 0.0


def figures(arm: ArmResult, baseline: ArmResult, *, kind: str | None = None) -> Figures:
    """`arm` against `baseline` (no marketing), for all guests or one kind's."""
    pairs = [
        (g, b)
        for g, b in zip(arm.guests, baseline.guests, strict=True)
        if kind is None or g.kind == kind
    ]
    mine = [g for g, _ in pairs]
    base = [b for _, b in pairs]
    return Figures(
        label=arm.label,
        guests=len(mine),
        visits=sum(len(g.visit_days) for g in mine),
        revenue=sum((g.paid for g in mine), Decimal(0)),
        incremental_visits=paired([_visits(g) for g in mine], [_visits(b) for b in base]),
        incremental_revenue=paired([float(g.paid) for g in mine], [float(b.paid) for b in base]),
        coupons_issued=sum(g.coupons for g in mine),
        coupons_redeemed=sum(g.redeemed for g in mine),
        coupon_cost=sum((g.discount for g in mine), Decimal(0)),
        returning=sum(1 for g in mine if len(g.visit_days) >= 2),
        incremental_returning=paired([_returning(g) for g in mine], [_returning(b) for b in base]),
        marketing_messages=sum(g.marketing for g in mine),
        stopped=sum(1 for g in mine if g.quit == "stopped"),
        blocked=sum(1 for g in mine if g.quit == "blocked"),
        loyal_discounted=sum(1 for g in mine if g.kind == "loyal" and g.discount_coupons),
        loyal_redeemed=sum(1 for g in mine if g.kind == "loyal" and g.discount_coupons_redeemed),
        loyal_birthday_gifts=sum(1 for g in mine if g.kind == "loyal" and g.birthday_gifts),
    )


def retention_curve(arm: ArmResult, *, days: int) -> list[float]:
    """Share of guests back within d days of their first visit, d = 0..RETENTION_DAYS."""
    horizon = min(RETENTION_DAYS, days - 1)
    eligible = [g for g in arm.guests if g.visit_days and g.first_day + horizon < days]
    if not eligible:
        return []
    back = [g.visit_days[1] - g.visit_days[0] for g in eligible if len(g.visit_days) >= 2]
    return [sum(1 for b in back if b <= d) / len(eligible) for d in range(horizon + 1)]


def monthly_visits(arm: ArmResult, *, days: int) -> list[int]:
    """Visits per 30-day period of the run."""
    months = [0] * ((days + 29) // 30)
    for g in arm.guests:
        for d in g.visit_days:
            months[d // 30] += 1
    return months
