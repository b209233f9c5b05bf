"""`regulars members explain <id>` and `regulars members refresh`: the lifecycle engine for the
person at the shell (English, like the rest of the CLI)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from bot.config import Settings
from loyalty import explain as explaining
from loyalty import refresh
from loyalty.policy import Policy, load_policy
from models.db import create_engine, create_session_factory
from models.migrate import upgrade
from ui.formatting import format_money


class MembersCLIError(Exception):
    """One line for the person at the shell."""


def parse_at(text: str | None) -> datetime:
    """`--at 2026-11-23T10:00+08:00` (an ISO time; UTC when it names no zone), else now."""
    if text is None:
        return datetime.now(UTC)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise MembersCLIError(f"--at must be an ISO date and time, not {text!r}") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _days(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _when(at: datetime | None, zone: ZoneInfo) -> str:
    return "-" if at is None else at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def render(e: explaining.Explanation, policy: Policy, *, now: datetime) -> str:
    zone = ZoneInfo(e.timezone)
    status = e.status
    lines = [
        f"Member {e.member_id} · {e.display_name or '(no name)'} · joined "
        f"{_when(e.enrolled_at, zone)} via {e.channel}",
        f"As of {_when(now, zone)} (policy {policy.name!r})",
        "",
        f"Tier: {status.tier}"
        + ("" if status.tier == e.stored_tier else f" (stored {e.stored_tier}: refresh due)"),
    ]
    grade = e.grade
    if grade is not None and grade.manual:
        until = _when(grade.until, zone) if grade.until is not None else "lifted by a manager"
        lines[-1] = f"Tier: {grade.tier} (a manager's grade, until {until})"
        lines.append(f"  by the figures: {status.tier}; reason: {grade.reason or '-'}")
    if grade is not None and grade.labels:
        lines.append(f"Labels: {', '.join(grade.labels)}")
    if not status.graded:
        lines.append(f"  not graded before {_when(status.graded_from, zone)}")
    window = policy.tiers.window_days
    lines.append(
        f"  in the last {window} days: {status.visits_in_window} visits, spend "
        f"{format_money(status.spend_in_window, e.currency, 'en')}, "
        f"{e.referrals_in_window} referrals, {e.suggestions_in_window} adopted suggestions"
    )
    if policy.tiers.per == "month" or policy.tiers.amount_scale != 1:
        lines.append(
            "  thresholds below are window totals: the policy's figures"
            + (f" a month × {window}/30" if policy.tiers.per == "month" else "")
            + (f", spend × {policy.tiers.amount_scale}" if policy.tiers.amount_scale != 1 else "")
        )
    for check in e.rungs:
        if not check.conditions:
            need = "(floor: everyone)"
        else:
            joiner = " or " if check.match == "any" else " and "
            need = joiner.join(
                f"{c.key} ≥ {c.need} (has {c.have} {'✓' if c.met else '✗'})"
                for c in check.conditions
            )
        lines.append(f"  {check.tier:<12} {need}  → {'met' if check.met else 'not met'}")
    if status.next_tier is not None:
        deadline = f" before {_when(status.deadline, zone)}" if status.deadline else ""
        lines.append(
            f"  next: {status.next_tier}{deadline}: {status.visits_needed} more visits, "
            f"{format_money(status.spend_needed, e.currency, 'en')} more spend, "
            f"{status.referrals_needed} more referrals, "
            f"{status.suggestions_needed} more adopted suggestions"
            + (" (any one of them)" if status.any_of else "")
        )
    lines += [
        "",
        f"Visits: {e.visit_count}; last {_when(e.last_visit_at, zone)}",
        "Gaps (days): "
        + (", ".join(f"{g:.1f}" for g in e.gaps[-12:]) or "none yet")
        + (f" (last 12 of {len(e.gaps)})" if len(e.gaps) > 12 else ""),
        f"  mean {_days(e.gap_mean_days)} over {len(e.gaps)} gaps; "
        f"first return after {_days(e.first_gap_days)} days",
        "  recency weights (half-life "
        f"{e.half_life:g} visits): "
        + (", ".join(f"{w:.3f}" for w in e.weights[-12:]) or "none")
        + f"; own weighted gap {_days(e.gap_weighted_days)} days",
        f"Cohort {e.channel} × {e.stored_tier}: typical gap {_days(e.cohort_gap.days)} days "
        f"(median of {e.cohort_gap.members} members; {e.cohort_gap.source})",
        f"Cohort {e.channel} newcomers: first return after {_days(e.cohort_first_return.days)} "
        f"days (median of {e.cohort_first_return.members}; {e.cohort_first_return.source})",
    ]
    lines += _interval_lines(e)
    lapse = policy.lapse
    if e.due is not None:
        lines += [
            f"Due: slowing {_when(e.due.slowing, zone)} ({lapse.slowing_factor:g}×), "
            f"lapsed {_when(e.due.lapsed, zone)} ({lapse.lapsed_factor:g}×), "
            f"lost {_when(e.due.lost, zone)} ({lapse.lost_factor:g}×)",
        ]
    lines.append(f"Stage now: {e.stage.value}")
    lines += _turn_and_offer_lines(e, policy, zone)
    return "\n".join(lines)


def _interval_lines(e: explaining.Explanation) -> list[str]:
    n, k = len(e.gaps), e.shrinkage
    if e.expected_interval_days is None:
        return ["Expected interval: none (no visit yet)"]
    if n == 0:
        return [
            f"Expected interval: the cohort's first return, {_days(e.expected_interval_days)} days"
        ]
    own_weight = Decimal(n) / Decimal(n + k) * 100
    return [
        f"Expected interval: ({n} × own {_days(e.gap_weighted_days)} + {k} × cohort "
        f"{_days(e.cohort_gap.days)}) / ({n} + {k}), at least the floor "
        f"{_days(e.floor_days)} = {_days(e.expected_interval_days)} days "
        f"(own rhythm {own_weight:.0f}%, cohort {100 - own_weight:.0f}%)"
    ]


def _turn_and_offer_lines(e: explaining.Explanation, policy: Policy, zone: ZoneInfo) -> list[str]:
    turn = e.turn.value or "none"
    since = f" since {_when(e.turn_at, zone)}" if e.turn_at is not None and e.turn.value else ""
    lines = [f"Turn: {turn}{since}"]
    if e.cooling_due_at is not None and e.turn.value != "cooling":
        lines.append(f"  cooling if no visit by {_when(e.cooling_due_at, zone)}")
    lines.append(f"Next expected visit: {_when(e.next_visit, zone)}")
    limit = policy.ladder.max_unanswered_offers
    lines.append(
        f"Unanswered offers in a row: {e.unanswered_offers} of {limit}"
        + (" — care messages only, no coupons" if e.unmoved else "")
    )
    if e.treatment_tier != e.stored_tier:
        lines.append(
            f"Treated as: {e.treatment_tier} (highest tier in the last "
            f"{policy.tiers.treatment_lookback_days} days)"
        )
    return lines


async def explain(settings: Settings, *, member_id: int, now: datetime) -> str:
    policy = load_policy(settings.policy_file)
    engine = create_engine(settings.effective_database_url)
    try:
        await upgrade(engine)
        async with create_session_factory(engine)() as session:
            try:
                found = await explaining.explain(
                    session, member_id=member_id, policy=policy, now=now
                )
            except explaining.UnknownMember:
                raise MembersCLIError(f"no member {member_id}") from None
        return render(found, policy, now=now)
    finally:
        await engine.dispose()


async def refresh_now(settings: Settings, *, now: datetime, batch_size: int) -> str:
    """The nightly refresh, now (outside the run ledger: an operator asked for it)."""
    policy = load_policy(settings.policy_file)
    engine = create_engine(settings.effective_database_url)
    try:
        await upgrade(engine)
        result = await refresh.nightly_refresh(
            create_session_factory(engine), policy=policy, now=now, batch_size=batch_size
        )
        return json.dumps(result.as_dict())
    finally:
        await engine.dispose()
