"""The lifecycle on the database: cohort norms, the nightly refresh, "who is due now?".

Everything that spans all members is set-based SQL, in batches of member ids so that no
transaction holds SQLite's write lock for long and nothing loads all members into Python:

1. cohort norms — medians per (channel, tier) by window functions, a few rows back;
2. per batch, tiers — one SELECT computes every member's tier from their visits, spend,
   referrals and suggestions in the window and returns only the members whose tier changed;
3. per batch, rhythm — one UPDATE recomputes the expected interval and the three due dates.

The tier rules in SQL mirror :func:`loyalty.tiers.assess`; the interval mirrors
:mod:`loyalty.lifecycle` (tests hold them to each other).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Float,
    and_,
    bindparam,
    case,
    delete,
    false,
    func,
    insert,
    literal,
    literal_column,
    not_,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.sql.selectable import Subquery
from sqlmodel import col

from loyalty import tiers
from loyalty.channels import Channel
from loyalty.lifecycle import DueDates, Norms, Rhythm, Stage, Turn, default_norms
from loyalty.policy import Policy, Rung
from models.cache import Expiring
from models.queries import CREDITED, SUGGESTION
from models.tables import CohortNorm, Feedback, Member, Payment, TelegramUser, TierChange, Visit
from models.types import Money, UTCDateTime

GAP = "gap"
_ALL: Any = literal_column("'*'").label("all")
FIRST_RETURN = "first_return"
ANY_TIER = "*"
DEFAULT_BATCH = 20_000


# -- SQL building blocks -----------------------------------------------------------------------


class plus_seconds(FunctionElement[datetime]):
    """timestamp + a number of seconds, on SQLite and PostgreSQL (whole seconds on SQLite)."""

    type = UTCDateTime()
    inherit_cache = True
    name = "plus_seconds"


@compiles(plus_seconds, "sqlite")
def _plus_seconds_sqlite(element: plus_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    start, seconds = list(element.clauses)
    # the same text form SQLAlchemy writes, so stored values compare as text in time order
    return (
        f"(datetime({compiler.process(start, **kw)}, '+' || "
        f"CAST(ROUND({compiler.process(seconds, **kw)}) AS INTEGER) || ' seconds') || '.000000')"
    )


@compiles(plus_seconds, "postgresql")
def _plus_seconds_pg(element: plus_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    start, seconds = list(element.clauses)
    return (
        f"({compiler.process(start, **kw)} + "
        f"CAST({compiler.process(seconds, **kw)} AS DOUBLE PRECISION) * INTERVAL '1 second')"
    )


def stage_case(policy: Policy, *, now: datetime) -> ColumnElement[str]:
    """A member's lifecycle stage as an SQL expression (for segments and counts)."""
    at = literal(now, UTCDateTime())
    return case(
        (col(Member.lost_due_at) <= at, Stage.LOST.value),
        (col(Member.lapsed_due_at) <= at, Stage.LAPSED.value),
        (col(Member.slowing_due_at) <= at, Stage.SLOWING.value),
        (col(Member.visit_count) <= 1, Stage.NEWCOMER.value),
        (col(Member.visit_count) < policy.lapse.active_min_visits, Stage.RETURNING.value),
        else_=Stage.ACTIVE.value,
    )


def turn_case(*, now: datetime) -> ColumnElement[str]:
    """A member's turning point as of `now` as an SQL expression (lifecycle.turned: cooling once
    the cooling date passed, even before the nightly refresh has marked it)."""
    at = literal(now, UTCDateTime())
    return case(
        (
            and_(col(Member.cooling_due_at).is_not(None), col(Member.cooling_due_at) <= at),
            Turn.COOLING.value,
        ),
        else_=col(Member.turn),
    )


# -- cohort norms ------------------------------------------------------------------------------


async def _medians(
    session: AsyncSession,
    *,
    value: Any,
    groups: Sequence[Any],
    where: ColumnElement[bool],
) -> dict[tuple[str, ...], tuple[int, Decimal]]:
    """{group: (members, median of value)} by window functions (no row comes to Python)."""
    ranked = (
        select(
            *groups,
            value.label("v"),
            func.row_number().over(partition_by=list(groups), order_by=value).label("rn"),
            func.count().over(partition_by=list(groups)).label("cnt"),
        )
        .where(where)
        .subquery()
    )
    group_cols = [ranked.c[g.key] for g in groups]
    rows = await session.execute(
        select(*group_cols, func.max(ranked.c.cnt), func.avg(ranked.c.v))
        .where(ranked.c.rn * 2 >= ranked.c.cnt, ranked.c.rn * 2 <= ranked.c.cnt + 2)
        .group_by(*group_cols)
    )
    out: dict[tuple[str, ...], tuple[int, Decimal]] = {}
    for row in rows.all():
        *keys, count, median = row
        out[tuple(keys)] = (int(count), Decimal(str(round(float(median), 3))))
    return out


@dataclass(frozen=True, slots=True)
class NormRow:
    kind: str
    channel: str
    tier: str
    members: int
    gap_days: Decimal
    source: str


async def compute_norms(session: AsyncSession, *, policy: Policy) -> list[NormRow]:
    """The effective norm of every (channel, tier) and every channel's first return."""
    least = policy.lapse.min_cohort_members
    default = Decimal(policy.lapse.default_interval_days)
    live = col(Member.erased_at).is_(None)
    has_gap = and_(live, col(Member.gap_count) >= 1)
    channel, tier = col(Member.acquisition_channel), col(Member.tier)
    by_cohort = await _medians(
        session, value=col(Member.gap_mean_days), groups=[channel, tier], where=has_gap
    )
    by_tier = await _medians(session, value=col(Member.gap_mean_days), groups=[tier], where=has_gap)
    overall = await _medians(session, value=col(Member.gap_mean_days), groups=[_ALL], where=has_gap)
    has_first = and_(live, col(Member.first_gap_days).is_not(None))
    first_by_channel = await _medians(
        session, value=col(Member.first_gap_days), groups=[channel], where=has_first
    )
    first_overall = await _medians(
        session, value=col(Member.first_gap_days), groups=[_ALL], where=has_first
    )

    def pick(*candidates: tuple[str, tuple[int, Decimal] | None]) -> tuple[int, Decimal, str]:
        for source, found in candidates:
            if found is not None and found[0] >= least:
                return found[0], found[1], source
        return 0, default, "default"

    channels = sorted({c.value for c in Channel} | {key[0] for key in by_cohort})
    rows: list[NormRow] = []
    for ch in channels:
        for key in policy.tiers.keys:
            members, days, source = pick(
                ("cohort", by_cohort.get((ch, key))),
                ("tier", by_tier.get((key,))),
                ("all", overall.get(("*",))),
            )
            rows.append(NormRow(GAP, ch, key, members, days, source))
        members, days, source = pick(
            ("cohort", first_by_channel.get((ch,))), ("all", first_overall.get(("*",)))
        )
        rows.append(NormRow(FIRST_RETURN, ch, ANY_TIER, members, days, source))
    return rows


NORMS_TTL_SECONDS = 60.0
"""How long a process may go on using cohort norms another process has recomputed."""

_NORMS: Expiring[tuple[str, str], dict[str, Decimal]] = Expiring(NORMS_TTL_SECONDS)
_NORMS_QUERY = select(col(CohortNorm.kind), col(CohortNorm.gap_days)).where(
    col(CohortNorm.channel) == bindparam("channel"),
    or_(
        and_(col(CohortNorm.kind) == GAP, col(CohortNorm.tier) == bindparam("tier")),
        and_(col(CohortNorm.kind) == FIRST_RETURN, col(CohortNorm.tier) == ANY_TIER),
    ),
)


async def recompute_norms(session: AsyncSession, *, policy: Policy, now: datetime) -> int:
    rows = await compute_norms(session, policy=policy)
    _NORMS.forget(session)
    await session.execute(delete(CohortNorm))
    await session.execute(
        insert(CohortNorm),
        [
            {
                "kind": r.kind,
                "channel": r.channel,
                "tier": r.tier,
                "members": r.members,
                "gap_days": r.gap_days,
                "source": r.source,
                "computed_at": now,
            }
            for r in rows
        ],
    )
    _NORMS.forget(session)  # also what a payment may have read meanwhile
    return len(rows)


async def norms_for(session: AsyncSession, *, channel: str, tier: str, policy: Policy) -> Norms:
    """The cohort norms one member is measured against (the defaults before any refresh).

    Read for every payment, rewritten once a night (``recompute_norms``): remembered per
    database for ``NORMS_TTL_SECONDS``, forgotten at once in the process that recomputes them.
    """
    found = _NORMS.get(session, (channel, tier))
    if found is None:
        rows = await session.execute(_NORMS_QUERY, {"channel": channel, "tier": tier})
        found = _NORMS.put(session, (channel, tier), dict(rows.tuples().all()))
    fallback = default_norms(policy)
    return Norms(
        gap_days=found.get(GAP, fallback.gap_days),
        first_return_days=found.get(FIRST_RETURN, fallback.first_return_days),
    )


async def norm_rows(session: AsyncSession) -> Sequence[CohortNorm]:
    result = await session.execute(
        select(CohortNorm).order_by(
            col(CohortNorm.kind), col(CohortNorm.channel), col(CohortNorm.tier)
        )
    )
    return result.scalars().all()


# -- tiers -------------------------------------------------------------------------------------


def _condition(
    rung: Rung, *, visits: Any, spend: Any, referrals: Any, suggestions: Any
) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    for key, minimum in rung.conditions():
        if key == "visits":
            parts.append(visits >= minimum)
        elif key == "spend":
            parts.append(spend >= literal(minimum, Money()))
        elif key == "referrals":
            parts.append(referrals >= minimum)
        elif key == "suggestions":
            parts.append(suggestions >= minimum)
        else:  # a threshold this SQL does not know: nobody meets it
            parts.append(false())
    if not parts:
        return true()
    return or_(*parts) if rung.match == "any" else and_(*parts)


def _per_member(
    member: Any,  # a member-id column: col(Visit.member_id) and the like
    values: Sequence[ColumnElement[Any]],
    *where: ColumnElement[bool],
    lo: int,
    hi: int,
) -> Subquery:
    """`values` per member lo < id ≤ hi (counts or sums) over the rows matching `where`."""
    return (
        select(member.label("member_id"), *values)
        .where(member > lo, member <= hi, *where)
        .group_by(member)
        .subquery()
    )


def _in_window(at: Any, since: datetime) -> Any:
    return case((at >= since, 1), else_=0)


def _window_sums(
    *, now: datetime, since: datetime, since_long: datetime, lo: int, hi: int
) -> tuple[Subquery, Subquery, Subquery, Subquery]:
    """Per member lo < id ≤ hi: visits, spend, referrals and suggestions since `since` and since
    `since_long` (the window, and the window with the downgrade's grace days), one scan each."""
    window = _per_member(
        col(Visit.member_id),
        (
            func.sum(_in_window(col(Visit.at), since)).label("visits"),
            func.count().label("visits_long"),
        ),
        col(Visit.voided_at).is_(None),
        col(Visit.at) >= since_long,
        col(Visit.at) <= now,
        lo=lo,
        hi=hi,
    )
    # spend: every payment credited in the window, a sitting's second bill included (it earns
    # no visit of its own); queries.visit_history counts the same money per sitting
    in_window = col(Payment.credited_at) >= since
    paid = _per_member(
        col(Payment.member_id),
        (
            func.sum(case((in_window, col(Payment.amount)), else_=0)).label("spend"),
            func.sum(col(Payment.amount)).label("spend_long"),
        ),
        col(Payment.status) == CREDITED,
        col(Payment.credited_at) >= since_long,
        col(Payment.credited_at) <= now,
        lo=lo,
        hi=hi,
    )
    referee = aliased(Member)
    refs = _per_member(
        col(referee.referrer_member_id),
        (
            func.sum(_in_window(col(referee.enrolled_at), since)).label("referrals"),
            func.count().label("referrals_long"),
        ),
        col(referee.enrolled_at) >= since_long,
        lo=lo,
        hi=hi,
    )
    # suggestions: those a manager adopted (loyalty.feedback.adopt), when they were adopted
    ideas = _per_member(
        col(Feedback.member_id),
        (
            func.sum(_in_window(col(Feedback.adopted_at), since)).label("suggestions"),
            func.count().label("suggestions_long"),
        ),
        col(Feedback.kind) == SUGGESTION,
        col(Feedback.adopted_at) >= since_long,
        lo=lo,
        hi=hi,
    )
    return window, paid, refs, ideas


def manual_in_force(*, now: datetime) -> ColumnElement[bool]:
    """A manager's grade holds (loyalty.grades): whatever the figures say, neither this refresh
    nor a payment moves the member; once its end date passes, the refresh moves them as anyone."""
    return and_(
        col(Member.manual_tier).is_not(None),
        or_(col(Member.manual_tier_until).is_(None), col(Member.manual_tier_until) > now),
    )


def _tier_select(policy: Policy, *, now: datetime, lo: int, hi: int) -> Any:
    """(member id, stored tier, tier as of now, tier counting the grace days too, lapsed due,
    lost due) for members lo < id ≤ hi whose tier as of now differs from the stored one."""
    rules = policy.tiers
    since = now - timedelta(days=rules.window_days)
    # what left the window keeps counting for the grace days: the tier a downgrade may reach
    since_long = since - timedelta(days=rules.downgrade_grace_days)
    in_batch = and_(col(Member.id) > lo, col(Member.id) <= hi)
    window, paid, refs, ideas = _window_sums(
        now=now, since=since, since_long=since_long, lo=lo, hi=hi
    )
    # spend is joined only when a rung asks for it (the frequency preset's ladder does not);
    # suggestions only when a rung asks for them (the presets' ladders do not)
    counts_spend = any(rung.min_spend for rung in rules.ladder)
    counts_ideas = any(rung.min_suggestions for rung in rules.ladder)

    def tier_case(suffix: str) -> Any:
        visits = func.coalesce(window.c["visits" + suffix], 0)
        spend = func.coalesce(paid.c["spend" + suffix], 0) if counts_spend else literal(0)
        referrals = func.coalesce(refs.c["referrals" + suffix], 0)
        suggestions = (
            func.coalesce(ideas.c["suggestions" + suffix], 0) if counts_ideas else literal(0)
        )
        whens: list[tuple[ColumnElement[bool], str]] = []
        if rules.ungraded_tier is not None:
            graded_after = now - timedelta(days=rules.min_membership_days)
            whens.append((col(Member.enrolled_at) > graded_after, rules.ungraded_tier))
        for rung in reversed(rules.counted[1:]):  # window totals: per month, amount_scale
            met = _condition(
                rung, visits=visits, spend=spend, referrals=referrals, suggestions=suggestions
            )
            whens.append((met, rung.name))
        floor = rules.ladder[0].name
        return case(*whens, else_=floor) if whens else literal(floor)

    members = (
        select(
            col(Member.id).label("id"),
            col(Member.tier).label("tier"),
            tier_case("").label("new_tier"),
            tier_case("_long").label("lenient_tier"),
            col(Member.lapsed_due_at).label("lapsed_due_at"),
            col(Member.lost_due_at).label("lost_due_at"),
        )
        .select_from(Member)
        .outerjoin(window, window.c.member_id == col(Member.id))
        .outerjoin(refs, refs.c.member_id == col(Member.id))
    )
    if counts_spend:
        members = members.outerjoin(paid, paid.c.member_id == col(Member.id))
    if counts_ideas:
        members = members.outerjoin(ideas, ideas.c.member_id == col(Member.id))
    # a manager's grade in force (loyalty.grades) holds whatever the figures say; once its end
    # date passes, this refresh moves the member like anyone else
    computed = members.where(
        in_batch, col(Member.erased_at).is_(None), not_(manual_in_force(now=now))
    ).subquery()
    return select(
        computed.c.id,
        computed.c.tier,
        computed.c.new_tier,
        computed.c.lenient_tier,
        computed.c.lapsed_due_at,
        computed.c.lost_due_at,
    ).where(computed.c.new_tier != computed.c.tier)


def direction(policy: Policy, *, before: str, after: str) -> str:
    return "up" if policy.tiers.rank(after) > policy.tiers.rank(before) else "down"


def needs_notice(policy: Policy, *, direction: str) -> bool:
    return direction == "up" or policy.tiers.downgrade == "notify"


# -- rhythm ------------------------------------------------------------------------------------


def _rhythm_values(policy: Policy, *, now: datetime) -> dict[str, Any]:
    lapse = policy.lapse
    default = literal(Decimal(lapse.default_interval_days))
    k = lapse.shrinkage_visits

    def norm(kind: str, tier: Any) -> Any:
        return (
            select(col(CohortNorm.gap_days))
            .where(
                col(CohortNorm.kind) == kind,
                col(CohortNorm.channel) == col(Member.acquisition_channel),
                col(CohortNorm.tier) == tier,
            )
            .scalar_subquery()
        )

    gap_norm = func.coalesce(norm(GAP, col(Member.tier)), default)
    first_norm = func.coalesce(norm(FIRST_RETURN, ANY_TIER), default)
    gaps = col(Member.gap_count)
    own = col(Member.gap_weighted_days)
    blended: Any = (gaps * own + k * gap_norm) / (gaps + k) if k else own
    interval = func.round(case((gaps == 0, first_norm), else_=blended), 3)
    floor = col(Member.interval_floor_days)
    expected = case((interval < floor, floor), else_=interval)

    def due(factor: float) -> Any:
        seconds = expected * literal(factor * 86400, Float())
        return plus_seconds(col(Member.last_visit_at), seconds)

    at = literal(now, UTCDateTime())
    # lifecycle.turned: cooling once the cooling date passed without a visit
    turns = and_(
        col(Member.cooling_due_at).is_not(None),
        col(Member.cooling_due_at) <= at,
        col(Member.turn) != Turn.COOLING.value,
    )
    return {
        "expected_interval_days": expected,
        "slowing_due_at": due(lapse.slowing_factor),
        "lapsed_due_at": due(lapse.lapsed_factor),
        "lost_due_at": due(lapse.lost_factor),
        "turn_at": case((turns, col(Member.cooling_due_at)), else_=col(Member.turn_at)),
        "rising": case((turns, false()), else_=col(Member.rising)),
        "turn": case((turns, Turn.COOLING.value), else_=col(Member.turn)),
    }


# -- the nightly refresh -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RefreshResult:
    members: int
    batches: int
    norms: int
    upgrades: int
    downgrades: int

    def as_dict(self) -> dict[str, int]:
        return {
            "members": self.members,
            "batches": self.batches,
            "norms": self.norms,
            "upgrades": self.upgrades,
            "downgrades": self.downgrades,
        }


_IDS_PER_STATEMENT = 10_000
"""Ids bound in one statement: SQLite and asyncpg both stop at 32,767 parameters."""


async def refresh_batch(
    session: AsyncSession, *, policy: Policy, now: datetime, lo: int, hi: int
) -> tuple[int, int, int]:
    """Tiers then rhythm for members lo < id ≤ hi: (members with a rhythm, ups, downs)."""
    changed = (await session.execute(_tier_select(policy, now=now, lo=lo, hi=hi))).all()
    ups = downs = 0
    moves: dict[tuple[str, str], list[int]] = {}
    for member_id, before, strict, lenient, lapsed_due, lost_due in changed:
        in_episode = lapsed_due is not None and lapsed_due <= now < (lost_due or now)
        after = tiers.settle(
            policy, stored=before, strict=strict, lenient=lenient, in_episode=in_episode
        )
        if after != before:
            moves.setdefault((before, after), []).append(member_id)
    changes = []
    for (before, after), ids in moves.items():
        way = direction(policy, before=before, after=after)
        moved: list[int] = []
        for start in range(0, len(ids), _IDS_PER_STATEMENT):
            # only members still on the tier read above: a payment that moved one meanwhile
            # (it reassesses the tier itself) is not undone by this batch's older reading
            result = await session.execute(
                update(Member)
                .where(
                    col(Member.id).in_(ids[start : start + _IDS_PER_STATEMENT]),
                    col(Member.tier) == before,
                    not_(manual_in_force(now=now)),  # nor one a manager graded meanwhile
                )
                .values(tier=after, tier_since=now)
                .returning(col(Member.id))
                .execution_options(synchronize_session=False)
            )
            moved.extend(int(i) for i in result.scalars().all() if i is not None)
        told = (
            await congratulated(session, policy=policy, member_ids=moved, tier=after, now=now)
            if way == "up"
            else set()
        )
        for member_id in moved:
            ups += way == "up"
            downs += way == "down"
            quiet = not needs_notice(policy, direction=way) or member_id in told
            changes.append(
                {
                    "member_id": member_id,
                    "from_tier": before,
                    "to_tier": after,
                    "direction": way,
                    "reason": "refresh",
                    "at": now,
                    "notified_at": now if quiet else None,
                }
            )
    if changes:
        await session.execute(insert(TierChange), changes)
    result = await session.execute(
        update(Member)
        .where(
            col(Member.id) > lo,
            col(Member.id) <= hi,
            col(Member.last_visit_at).is_not(None),
            col(Member.erased_at).is_(None),
        )
        .values(_rhythm_values(policy, now=now))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0), ups, downs  # type: ignore[attr-defined]


async def congratulated(
    session: AsyncSession, *, policy: Policy, member_ids: Sequence[int], tier: str, now: datetime
) -> set[int]:
    """Of `member_ids`, those congratulated on reaching `tier` within
    tiers.congratulate_once_days (they are not congratulated on it again)."""
    days = policy.tiers.congratulate_once_days
    if not member_ids or days == 0:
        return set()
    found: set[int] = set()
    for start in range(0, len(member_ids), _IDS_PER_STATEMENT):
        rows = await session.execute(
            select(col(TierChange.member_id)).where(
                col(TierChange.member_id).in_(member_ids[start : start + _IDS_PER_STATEMENT]),
                col(TierChange.to_tier) == tier,
                col(TierChange.congratulated_at) >= now - timedelta(days=days),
            )
        )
        found.update(int(i) for i in rows.scalars().all())
    return found


async def nightly_refresh(
    factory: async_sessionmaker[AsyncSession],
    *,
    policy: Policy,
    now: datetime,
    batch_size: int = DEFAULT_BATCH,
) -> RefreshResult:
    """Norms, then every member's tier and rhythm, one short transaction per batch of ids."""
    async with factory() as session, session.begin():
        norms = await recompute_norms(session, policy=policy, now=now)
        top = int(await session.scalar(select(func.max(col(Member.id)))) or 0)
    members = ups = downs = batches = 0
    for lo in range(0, top, batch_size):
        async with factory() as session, session.begin():
            n, up, down = await refresh_batch(
                session, policy=policy, now=now, lo=lo, hi=lo + batch_size
            )
        members += n
        ups += up
        downs += down
        batches += 1
    return RefreshResult(
        members=members, batches=batches, norms=norms, upgrades=ups, downgrades=downs
    )


# -- who is due --------------------------------------------------------------------------------

_DUE_COLUMNS = {
    Stage.SLOWING: Member.slowing_due_at,
    Stage.LAPSED: Member.lapsed_due_at,
    Stage.LOST: Member.lost_due_at,
}


async def due_members(
    session: AsyncSession,
    *,
    stage: Stage,
    since: datetime,
    until: datetime,
    limit: int = 1000,
    after_id: int = 0,
) -> list[int]:
    """Members who became `stage` in (since, until], oldest due first: an index range scan."""
    due = col(_DUE_COLUMNS[stage])
    result = await session.execute(
        select(col(Member.id))
        .where(
            due > since,
            due <= until,
            col(Member.erased_at).is_(None),
            col(Member.id) > after_id,
        )
        .order_by(due, col(Member.id))
        .limit(limit)
    )
    return [member_id for member_id in result.scalars().all() if member_id is not None]


# -- one member --------------------------------------------------------------------------------


def rhythm_of(member: Member) -> Rhythm:
    due = None
    if (
        member.slowing_due_at is not None
        and member.lapsed_due_at is not None
        and member.lost_due_at is not None
    ):
        due = DueDates(
            slowing=member.slowing_due_at, lapsed=member.lapsed_due_at, lost=member.lost_due_at
        )
    return Rhythm(
        visit_count=member.visit_count,
        last_visit_at=member.last_visit_at,
        gap_count=member.gap_count,
        gap_mean_days=member.gap_mean_days,
        first_gap_days=member.first_gap_days,
        expected_interval_days=member.expected_interval_days,
        interval_floor_days=member.interval_floor_days,
        gap_weighted_days=member.gap_weighted_days,
        turn=Turn(member.turn) if member.turn in _TURNS else Turn.NONE,
        turn_at=member.turn_at,
        cooling_due_at=member.cooling_due_at,
        due=due,
    )


_TURNS = frozenset(t.value for t in Turn)


def store_rhythm(member: Member, rhythm: Rhythm) -> None:
    member.visit_count = rhythm.visit_count
    member.last_visit_at = rhythm.last_visit_at
    member.gap_count = rhythm.gap_count
    member.gap_mean_days = rhythm.gap_mean_days
    member.first_gap_days = rhythm.first_gap_days
    member.expected_interval_days = rhythm.expected_interval_days
    member.interval_floor_days = rhythm.interval_floor_days
    member.rising = rhythm.rising
    member.gap_weighted_days = rhythm.gap_weighted_days
    member.turn = rhythm.turn.value
    member.turn_at = rhythm.turn_at
    member.cooling_due_at = rhythm.cooling_due_at
    member.slowing_due_at = rhythm.due.slowing if rhythm.due else None
    member.lapsed_due_at = rhythm.due.lapsed if rhythm.due else None
    member.lost_due_at = rhythm.due.lost if rhythm.due else None


# -- telling members of tier changes -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TierNotice:
    change_id: int
    telegram_id: int
    direction: str
    from_tier: str
    to_tier: str
    locale: str | None
    """The person's chosen locale (else `language_code` decides)."""
    language_code: str | None


async def claim_tier_notices(
    session: AsyncSession, *, now: datetime, limit: int = 200
) -> list[TierNotice]:
    """Tier changes nobody was told of yet, claimed in one conditional UPDATE (another worker's
    claims are skipped), with what the message needs. Changes of erased or blocked members, or of
    members whose tier moved again since, are claimed without a notice (nothing true to say)."""
    rows = (
        await session.execute(
            select(
                col(TierChange.id),
                col(TierChange.direction),
                col(TierChange.from_tier),
                col(TierChange.to_tier),
                col(Member.tier),
                col(TelegramUser.telegram_id),
                col(TelegramUser.blocked_at),
                col(TelegramUser.locale),
                col(TelegramUser.language_code),
            )
            .join(Member, col(Member.id) == col(TierChange.member_id))
            .outerjoin(TelegramUser, col(TelegramUser.id) == col(Member.telegram_user_id))
            .where(col(TierChange.notified_at).is_(None))
            .order_by(col(TierChange.id))
            .limit(limit)
        )
    ).all()
    if not rows:
        return []
    claimed = set(
        (
            await session.execute(
                update(TierChange)
                .where(
                    col(TierChange.id).in_([row[0] for row in rows]),
                    col(TierChange.notified_at).is_(None),
                )
                .values(notified_at=now)
                .returning(col(TierChange.id))
                .execution_options(synchronize_session=False)
            )
        )
        .scalars()
        .all()
    )
    notices = [
        TierNotice(change_id, telegram_id, way, before, after, locale, code)
        for change_id, way, before, after, current, telegram_id, blocked, locale, code in rows
        if change_id in claimed and telegram_id is not None and blocked is None and current == after
    ]
    cheered = [n.change_id for n in notices if n.direction == "up"]
    if cheered:
        await session.execute(
            update(TierChange)
            .where(col(TierChange.id).in_(cheered))
            .values(congratulated_at=now)
            .execution_options(synchronize_session=False)
        )
    return notices
