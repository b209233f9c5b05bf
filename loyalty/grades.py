"""Manual grades and labels: what a manager knows about a guest that no till records.

Seed 001 grades some guests by who they are, not by what they spend (a company's manager, a
neighbour with a steady income, a student who brings classmates, a local official), and calls the
rest of its lowest grade "potential". A manager sets such a grade by hand (`/grade`, or a button
on `/member`), with a reason and an optional end date; while it is in force neither the nightly
refresh nor a payment moves the member's tier. Labels (the policy's ``labels``: neighbour,
company, student…) say what kind of guest the member is; a broadcast can aim at them.

Every change is in the audit log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty import roles, tiers
from loyalty.audiences import tags_column_value, tags_of
from loyalty.errors import Problem
from loyalty.policy import Policy
from models import queries
from models.tables import Member, Role, Store, TierChange

MAX_REASON = 200


class GradeProblem(Problem):
    """reason: "no_member", "no_tier", "past_until", "no_label"."""


@dataclass(frozen=True, slots=True)
class Grade:
    member_id: int
    tier: str
    manual: bool
    """The tier is a manager's grade in force (else: what the figures say)."""
    until: datetime | None
    reason: str
    labels: tuple[str, ...]


def in_force(member: Member, *, now: datetime) -> bool:
    """Whether the member's manual grade holds at `now`."""
    if member.manual_tier is None:
        return False
    return member.manual_tier_until is None or now < member.manual_tier_until


def end_of_day(day: date, *, timezone: str) -> datetime:
    """A grade "until 2027-03-31" holds through that day in the store's time zone."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZoneInfo(timezone))


def grade_of(member: Member, *, now: datetime) -> Grade:
    assert member.id is not None
    manual = in_force(member, now=now)
    return Grade(
        member_id=member.id,
        tier=member.tier,
        manual=manual,
        until=member.manual_tier_until if manual else None,
        reason=member.manual_tier_reason if manual else "",
        labels=tags_of(member.labels),
    )


async def _member(
    session: AsyncSession, member_id: int, *, telegram_id: int, role: Role, lock: bool = True
) -> Member:
    """The member, if this person manages their store (an owner: any store)."""
    member = await session.get(Member, member_id, with_for_update=lock)
    stores = await roles.managed_stores(session, telegram_id=telegram_id, role=role)
    if member is None or member.erased_at is not None:
        raise GradeProblem("no_member")
    if stores is not None and member.store_id not in stores:
        raise GradeProblem("no_member")  # another store's member: not theirs to see
    return member


def _move(
    session: AsyncSession, member: Member, *, to: str, now: datetime, why: str, policy: Policy
) -> None:
    """Move the member to `to`, in the tier history (told to nobody: a manager's decision is
    not a congratulation, and a lifted grade is no news to the member)."""
    assert member.id is not None
    if to == member.tier:
        return
    session.add(
        TierChange(
            member_id=member.id,
            from_tier=member.tier,
            to_tier=to,
            direction="up" if policy.tiers.rank(to) > policy.tiers.rank(member.tier) else "down",
            reason=why,
            at=now,
            notified_at=now,
        )
    )
    member.tier = to
    member.tier_since = now


async def set_grade(
    session: AsyncSession,
    *,
    member_id: int,
    tier: str,
    reason: str,
    until: datetime | None,
    by_telegram_id: int,
    role: Role,
    policy: Policy,
    now: datetime,
) -> Grade:
    """A manager grades a member by hand: the tier holds until `until` (None: until lifted)."""
    key = next((k for k in policy.tiers.keys if k.lower() == tier.strip().lower()), None)
    if key is None:
        raise GradeProblem("no_tier")
    if until is not None and until <= now:
        raise GradeProblem("past_until")
    member = await _member(session, member_id, telegram_id=by_telegram_id, role=role)
    reason = " ".join(reason.split())[:MAX_REASON]
    _move(session, member, to=key, now=now, why="manual", policy=policy)
    member.manual_tier = key
    member.manual_tier_until = until
    member.manual_tier_reason = reason
    ends = until.isoformat() if until is not None else "-"
    await queries.add_audit(
        session,
        actor_telegram_id=by_telegram_id,
        action="member.grade",
        detail=f"member={member_id} tier={key} until={ends} reason={reason}",
        now=now,
    )
    await session.flush()
    return grade_of(member, now=now)


async def lift_grade(
    session: AsyncSession,
    *,
    member_id: int,
    by_telegram_id: int,
    role: Role,
    policy: Policy,
    now: datetime,
) -> Grade:
    """Back to the grade the figures give, at once."""
    member = await _member(session, member_id, telegram_id=by_telegram_id, role=role)
    member.manual_tier = None
    member.manual_tier_until = None
    member.manual_tier_reason = ""
    status = await tiers.status_of(session, member=member, policy=policy, now=now)
    _move(session, member, to=status.tier, now=now, why="manual_lifted", policy=policy)
    await queries.add_audit(
        session,
        actor_telegram_id=by_telegram_id,
        action="member.grade_lifted",
        detail=f"member={member_id} tier={status.tier}",
        now=now,
    )
    await session.flush()
    return grade_of(member, now=now)


def parse_labels(words: Sequence[str], policy: Policy) -> tuple[str, ...]:
    """Label keys from what a manager typed ("neighbour, Student"): each must be the policy's."""
    found: list[str] = []
    for word in words:
        for part in word.replace("，", ",").split(","):
            key = part.strip().lower()
            if not key:
                continue
            if key not in policy.labels:
                raise GradeProblem("no_label")
            if key not in found:
                found.append(key)
    return tuple(found)


async def set_labels(
    session: AsyncSession,
    *,
    member_id: int,
    labels: Sequence[str],
    by_telegram_id: int,
    role: Role,
    policy: Policy,
    now: datetime,
) -> Grade:
    """The member's labels become `labels` (empty: none)."""
    if any(label not in policy.labels for label in labels):
        raise GradeProblem("no_label")
    member = await _member(session, member_id, telegram_id=by_telegram_id, role=role)
    member.labels = tags_column_value(labels)
    await queries.add_audit(
        session,
        actor_telegram_id=by_telegram_id,
        action="member.labels",
        detail=f"member={member_id} labels={','.join(sorted(set(labels))) or '-'}",
        now=now,
    )
    await session.flush()
    return grade_of(member, now=now)


@dataclass(frozen=True, slots=True)
class MemberPage:
    """What a manager sees on `/member`: the grade, what the figures say, the labels."""

    member_id: int
    display_name: str
    currency: str
    grade: Grade
    by_figures: str
    """The tier the window's figures give (what the member returns to when a grade ends)."""
    visits: int
    spend: Decimal
    referrals: int
    suggestions: int


async def member_page(
    session: AsyncSession,
    *,
    member_id: int,
    viewer_telegram_id: int,
    role: Role,
    policy: Policy,
    now: datetime,
) -> MemberPage:
    member = await _member(
        session, member_id, telegram_id=viewer_telegram_id, role=role, lock=False
    )
    assert member.id is not None
    store = await session.get(Store, member.store_id)
    assert store is not None
    status = await tiers.status_of(session, member=member, policy=policy, now=now)
    since = now - timedelta(days=policy.tiers.window_days)
    return MemberPage(
        member_id=member.id,
        display_name=member.display_name,
        currency=store.currency,
        grade=grade_of(member, now=now),
        by_figures=status.tier,
        visits=status.visits_in_window,
        spend=status.spend_in_window,
        referrals=await queries.count_referrals(session, member_id=member.id, since=since),
        suggestions=await queries.count_adopted_suggestions(
            session, member_id=member.id, since=since
        ),
    )
