"""``report.md`` and its PNG charts from a :class:`SimulationResult`.

Everything in the report is computed from the run: the headline table per policy against no
marketing, the same per guest kind, retention curves, and a sensitivity table saying which
comparisons still hold when every response chance is halved or doubled.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from simulator.engine import ArmResult
from simulator.figures import Figures, figures, monthly_visits, retention_curve
from simulator.simulate import SENSITIVITY_SCALES, SimulationResult

CHARTS = ("incremental.png", "retention.png", "monthly_visits.png")


def _money(value: Decimal | float) -> str:
    return f"{float(value):,.0f}"


def _signed(value: float) -> str:
    return f"{value:+,.0f}"


def _paired(total: float, noise: float) -> str:
    note = " (within noise)" if abs(total) <= noise else ""
    return f"{_signed(total)} ± {noise:,.0f}{note}"


def _per_coupon(f: Figures) -> str:
    return "–" if f.per_coupon is None else f"{f.per_coupon:.3f}"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def headline_rows(result: SimulationResult) -> list[Figures]:
    return [figures(arm, result.baseline) for arm in result.arms]


def _headline(result: SimulationResult) -> list[str]:
    currency = result.world.currency
    lines = [
        f"| policy | visits | incremental visits | revenue ({currency}) | incremental revenue "
        f"| coupons issued | redeemed | coupon cost | incremental returning guests "
        f"| per coupon | messages / guest | stopped | blocked | loyal guests discounted "
        f"| average ticket |",
        "|---|" + "---:|" * 14,
    ]
    for f in headline_rows(result):
        lines.append(
            f"| {f.label} | {f.visits:,} | "
            f"{_paired(f.incremental_visits.total, f.incremental_visits.noise)} | "
            f"{_money(f.revenue)} | "
            f"{_paired(f.incremental_revenue.total, f.incremental_revenue.noise)} | "
            f"{f.coupons_issued:,} | {f.coupons_redeemed:,} ({_rate(f.redemption_rate)}) | "
            f"{_money(f.coupon_cost)} | "
            f"{_paired(f.incremental_returning.total, f.incremental_returning.noise)} | "
            f"{_per_coupon(f)} | {f.messages_per_guest:.1f} | {f.stopped} | {f.blocked} | "
            f"{f.loyal_discounted} ({f.loyal_redeemed} redeemed; "
            f"{f.loyal_birthday_gifts} birthday gifts) | {f.average_ticket} |"
        )
    return lines


def _kinds(result: SimulationResult) -> list[str]:
    kinds = [k.name for k in result.world.kinds]
    lines = [
        "| kind | policy | guests | visits / guest | incremental visits | coupons issued "
        "| redeemed | coupon cost | incremental revenue | stopped + blocked |",
        "|---|---|" + "---:|" * 8,
    ]
    for kind in kinds:
        for arm in result.arms:
            f = figures(arm, result.baseline, kind=kind)
            per_guest = f.visits / f.guests if f.guests else 0.0
            lines.append(
                f"| {kind} | {f.label} | {f.guests} | {per_guest:.1f} | "
                f"{_paired(f.incremental_visits.total, f.incremental_visits.noise)} | "
                f"{f.coupons_issued} | {f.coupons_redeemed} | {_money(f.coupon_cost)} | "
                f"{_paired(f.incremental_revenue.total, f.incremental_revenue.noise)} | "
                f"{f.stopped + f.blocked} |"
            )
    return lines


@dataclass(frozen=True, slots=True)
class Conclusion:
    text: str
    holds: Callable[[Figures, Figures], bool | None]
    """(a policy's figures, the fixed rule's) → holds, fails, or None (not applicable)."""


CONCLUSIONS = (
    Conclusion(
        "brings more incremental visits than the fixed rule",
        lambda p, f: p.incremental_visits.total > f.incremental_visits.total,
    ),
    Conclusion(
        "brings more incremental revenue (net of coupons) than the fixed rule",
        lambda p, f: p.incremental_revenue.total > f.incremental_revenue.total,
    ),
    Conclusion(
        "spends less on coupons than the fixed rule", lambda p, f: p.coupon_cost < f.coupon_cost
    ),
    Conclusion(
        "brings more incremental returning guests per coupon than the fixed rule",
        lambda p, f: (
            None if p.per_coupon is None or f.per_coupon is None else p.per_coupon > f.per_coupon
        ),
    ),
    Conclusion("discounts no loyal guest", lambda p, f: p.loyal_discounted == 0),
    Conclusion(
        "pays for itself (incremental revenue above zero beyond noise)",
        lambda p, f: p.incremental_revenue.total > p.incremental_revenue.noise,
    ),
)


def _verdict(value: bool | None) -> str:
    return "–" if value is None else ("holds" if value else "**does not hold**")


def _sensitivity(result: SimulationResult) -> list[str]:
    scales = [1.0, *SENSITIVITY_SCALES]
    runs: dict[float, list[ArmResult]] = {1.0: result.arms, **result.sensitivity}
    header = " | ".join(f"responses ×{s:g}" for s in scales)
    lines = [f"| policy | conclusion | {header} |", "|---|---|" + "---|" * len(scales)]
    for i, arm in enumerate(result.arms[:-2]):
        for conclusion in CONCLUSIONS:
            cells = []
            for scale in scales:
                arms = runs[scale]
                mine, fixed = figures(arms[i], arms[-1]), figures(arms[-2], arms[-1])
                cells.append(_verdict(conclusion.holds(mine, fixed)))
            lines.append(f"| {arm.label} | {conclusion.text} | {' | '.join(cells)} |")
    lines += ["", "The figures behind it (incremental visits; coupon cost; per coupon):", ""]
    lines += [f"| policy | {header} |", "|---|" + "---|" * len(scales)]
    for i, arm in enumerate(result.arms[:-1]):
        cells = []
        for scale in scales:
            f = figures(runs[scale][i], runs[scale][-1])
            cells.append(
                f"{_signed(f.incremental_visits.total)}; {_money(f.coupon_cost)}; {_per_coupon(f)}"
            )
        lines.append(f"| {arm.label} | {' | '.join(cells)} |")
    return lines


def _zero_lift_note(result: SimulationResult) -> list[str]:
    rows = headline_rows(result)[:-1]
    if all(f.incremental_visits.within_noise for f in rows):
        return [
            "**Every policy's incremental visits are within noise of zero** in this run: "
            "the messages moved nobody measurably.",
            "",
        ]
    return []


def _failures(result: SimulationResult) -> int:
    runs = [*result.arms, *(a for arms in result.sensitivity.values() for a in arms)]
    return sum(a.jobs_failed for a in runs)


def render(result: SimulationResult, *, command: str) -> str:
    config = result.config
    small = config.sensitivity_guests
    lines = [
        "# Simulated year: policies compared",
        "",
        f"Made by `{command}` in {result.seconds:,.0f} s "
        f"({config.guests:,} guests, {config.days} days, seed {config.seed}, response chances "
        f"×{config.response_scale:g}). The world is `simulator/world.toml` (every default cites "
        "its source or says it is a guess); the policies ran through the real engine "
        "(record_payment, the scheduler's jobs, the outbox) on a simulated clock.",
        "",
        "Incremental = against *no marketing* for the same guests and the same random draws; "
        "± is two standard errors of the paired per-guest differences. Revenue is what guests "
        "paid, after coupon discounts. *Loyal guests discounted*: guests of the loyal kind who "
        "were issued a discount — a win-back, second-visit or promotion coupon (how many "
        "redeemed one); guests of the loyal kind given a birthday gift are counted apart, "
        "a gift is not a discount.",
        "",
        *_zero_lift_note(result),
        "Seconds per policy (one process each): "
        + ", ".join(f"{arm.label} {arm.seconds:,.0f}" for arm in result.arms)
        + (f"; scheduler job failures: {failed}" if (failed := _failures(result)) else "")
        + ".",
        "",
        "## Per policy",
        "",
        *_headline(result),
        "",
        "![incremental visits and coupon cost](incremental.png)",
        "",
        "## Per guest kind",
        "",
        *_kinds(result),
        "",
        "## Retention",
        "",
        "Share of guests back within *d* days of their first visit (guests who joined at least "
        "180 days before the end), and visits per 30 days.",
        "",
        "![retention curves](retention.png)",
        "",
        "![visits per 30 days](monthly_visits.png)",
        "",
    ]
    if result.sensitivity:
        size = (
            f" The ×0.5 and ×2 runs used a smaller world: {small:,} guests (with their own "
            "no-marketing baseline), to keep the run short; their absolute figures are not "
            "comparable with the ×1 column, their conclusions are."
            if small and small != config.guests
            else ""
        )
        lines += [
            "## Sensitivity",
            "",
            "Every response chance of the world halved and doubled (fatigue unchanged). Which "
            f"comparisons hold?{size}",
            "",
            *_sensitivity(result),
            "",
        ]
    return "\n".join(lines)


def write_report(result: SimulationResult, out: Path, *, command: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    _charts(result, out)
    path = out / "report.md"
    path.write_text(render(result, command=command), encoding="utf-8")
    return path


def _charts(result: SimulationResult, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = headline_rows(result)[:-1]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    labels = [f.label for f in rows]
    left.bar(labels, [f.incremental_visits.total for f in rows], color="#4c72b0")
    left.set_title("Incremental visits vs no marketing")
    right.bar(labels, [float(f.coupon_cost) for f in rows], color="#dd8452")
    right.set_title(f"Coupon cost ({result.world.currency})")
    for ax in (left, right):
        ax.tick_params(axis="x", labelrotation=15)
    fig.tight_layout()
    fig.savefig(out / "incremental.png", dpi=100)
    plt.close(fig)
    days = result.config.days
    fig, ax = plt.subplots(figsize=(8, 4))
    for arm in result.arms:
        curve = retention_curve(arm, days=days)
        ax.plot(range(len(curve)), curve, label=arm.label)
    ax.set_xlabel("days since first visit")
    ax.set_ylabel("share back")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "retention.png", dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 4))
    for arm in result.arms:
        ax.plot(monthly_visits(arm, days=days), marker="o", label=arm.label)
    ax.set_xlabel("30-day period")
    ax.set_ylabel("visits")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "monthly_visits.png", dpi=100)
    plt.close(fig)
