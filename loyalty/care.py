"""The care desk: the members who need a person today, not a campaign (seed 003).

Every morning (scheduler.care_jobs, at ``care.hour`` in each store's time zone) a store's
managers and the owners get a short list; `/care` shows it on demand. Who is on it — each
occasion one entry, keyed so that finding it again adds nothing (`detect`):

* **feedback** — a low rating or a complaint nobody has handled (seed 003: answer every
  complaint; 95 % of those who get a good answer come back);
* **overdue** — members of ``care.overdue_tiers`` (or who held one of them when their absence
  began: status is remembered through a lapse) whose days since the last visit reach their own
  usual rhythm (the expected interval) plus ``care.overdue_margin_days`` (seed 003: "a regular
  who has not come for two weeks — call, greet, learn why");
* **below** — fewer than ``care.monthly_minimum`` visits in the last 30 days after at least that
  many in the 30 days before (seed 003: "fewer than three times a month — ask why");
* **spend** — the last ``care.spend_visits`` bills average ``care.spend_drop`` or more below the
  ones before them (seed 002's churn warning: spend falls before visits stop);
* **rising** — visits coming closer together (the lifecycle's "rising" turn): a person thanks
  them, once per turn;
* **gave_up** — the win-back gave up on them: ``ladder.max_unanswered_offers`` coupons in a row
  went unanswered and it sends care only (loyalty.offers); listed once per absence, on one list
  (a personal word is what is left to try).

A member is on the list once: while they have an open entry no other is added for them (a
person needs one call, not three lines) unless it is more pressing, and then it takes the old
one's place (a weekly regular is "below the minimum" two weeks into an absence and "overdue" a
week later); feedback, which is about a visit, stands apart. Entries no
longer needed close themselves before a list is shown (`open_entries`): the member came back,
the feedback was handled in /feedback, the member erased their data.

What a manager does with an entry (each audited, each scoped to the stores they manage; owners:
every store): **Write to them** (`send_note`: the note reaches the member in their chat under
the store's name and the manager's first name, through the outbox — care, not marketing: no
weekly cap, but consent and quiet hours respected), **Ask why** (`ask_why`: the survey),
**Done**, **Later** (back on the list ``care.later_days`` mornings on).

The survey "why don't we see you more?" (`ask_why`, `plan_surveys`, `answer`): one-tap reasons,
asked at most once per member in ``survey.every_days`` whoever asks; the answer is a feedback
item of kind "survey" (so it is in /feedback and in the member's data) and reaches the store's
managers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, exists, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from loyalty import outbox, roles
from loyalty.errors import DomainError
from loyalty.lifecycle import Turn
from loyalty.outbox import Recipient
from loyalty.policy import Policy
from loyalty.refresh import plus_seconds
from models import queries
from models.queries import CREDITED
from models.tables import (
    CareEntry,
    CareSurvey,
    Feedback,
    Member,
    Payment,
    Role,
    Store,
    TelegramUser,
    TierChange,
    Visit,
)
from models.types import UTCDateTime

FEEDBACK, OVERDUE, BELOW, SPEND, RISING, GAVE_UP = (
    "feedback",
    "overdue",
    "below",
    "spend",
    "rising",
    "gave_up",
)
REASONS = (FEEDBACK, OVERDUE, BELOW, SPEND, GAVE_UP, RISING)
"""Most pressing first: the order of the list."""
OPEN, SHOWN, DONE, CLOSED = "open", "shown", "done", "closed"
ACTIONABLE = (OPEN, SHOWN)
WROTE, ASKED, HANDLED, LATER = "wrote", "asked", "done", "later"
VISITED, RESOLVED, ERASED, SUPERSEDED = "visited", "resolved", "erased", "superseded"

MONTH = timedelta(days=30)
HORIZON = timedelta(days=30)
"""Occasions older than this are not listed: a new deployment does not list last year's
absences, and the daily detection catches up after a month of downtime at most."""
GAVE_UP_HORIZON = timedelta(days=180)
"""The win-back's give-ups listed: absences that began within this (not years-old ones)."""
RECENT_VISIT = timedelta(days=2)
"""Falling spend is looked at for members who paid this recently (a bill changes it)."""
MAX_NOTE = 1000
SURVEY_KIND = "survey"
SURVEY_REASONS = ("moved", "price", "taste", "service", "waiting", "busy", "other")
OTHER = "other"
_DAY = 86400
_CENT = Decimal("0.01")


class CareProblem(DomainError):
    """reason: unknown (no such entry, or not in a store this person manages), already (handled
    before), no_consent (the member asked for no messages), unreachable (no chat: blocked the
    bot, erased), asked_recently (`since`: the survey went out then), empty, too_long,
    not_yours (someone else's survey), answered (the survey has its answer)."""

    def __init__(self, reason: str, *, since: datetime | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.since = since


# -- detection ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Found:
    key: str
    store_id: int
    member_id: int
    reason: str
    feedback_id: int | None = None
    detail: str = ""


def _in_stores(column: Any, stores: Collection[int] | None) -> Any:
    return literal(True) if stores is None else column.in_(sorted(stores))


def _stamp(at: datetime) -> int:
    return int(at.timestamp())


async def detect(
    session: AsyncSession, *, policy: Policy, now: datetime, stores: Collection[int] | None
) -> dict[str, int]:
    """Add the entries of every occasion found as of `now` in `stores` (None: all); how many
    were added per reason. Idempotent: an occasion already listed (or handled) adds nothing."""
    added = dict.fromkeys(REASONS, 0)
    for found in await _feedback(session, policy=policy, now=now, stores=stores):
        added[FEEDBACK] += await _add(session, found, now=now)
    busy = await _busy_members(session)
    finders: list[tuple[str, Callable[[], Awaitable[list[Found]]]]] = [
        (OVERDUE, lambda: _overdue(session, policy=policy, now=now, stores=stores)),
        (BELOW, lambda: _below(session, policy=policy, now=now, stores=stores)),
        (SPEND, lambda: _spend(session, policy=policy, now=now, stores=stores)),
        (GAVE_UP, lambda: _gave_up(session, policy=policy, now=now, stores=stores)),
        (RISING, lambda: _rising(session, policy=policy, now=now, stores=stores)),
    ]
    for reason, find in finders:
        rank = REASONS.index(reason)
        candidates = [f for f in await find() if _rank(busy.get(f.member_id)) > rank]
        if reason not in (OVERDUE, GAVE_UP):  # an absence is its own occasion; the others
            # repeat only so often
            recent = await _listed_since(
                session,
                reason=reason,
                member_ids=[f.member_id for f in candidates],
                since=now - timedelta(days=policy.care.repeat_days),
            )
            candidates = [f for f in candidates if f.member_id not in recent]
        for found in candidates:
            if await _add(session, found, now=now):
                added[reason] += 1
                if found.member_id in busy:  # a more pressing reason takes the member's line
                    await _supersede(session, member_id=found.member_id, key=found.key, now=now)
                busy[found.member_id] = reason
    return added


def _rank(reason: str | None) -> int:
    """How pressing a reason is: 0 most; no entry at all least."""
    return REASONS.index(reason) if reason in REASONS else len(REASONS)


async def _add(session: AsyncSession, found: Found, *, now: datetime) -> int:
    dialect = session.bind.dialect.name
    insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
    done = await session.execute(
        insert_(CareEntry)
        .values(
            key=found.key,
            store_id=found.store_id,
            member_id=found.member_id,
            reason=found.reason,
            feedback_id=found.feedback_id,
            detail=found.detail[:200],
            status=OPEN,
            created_at=now,
            due_at=now,
            action="",
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return int(done.rowcount or 0)  # type: ignore[attr-defined]


async def _busy_members(session: AsyncSession) -> dict[int, str]:
    """Members with an open entry other than feedback (they are on the list already), and its
    reason."""
    rows = await session.execute(
        select(col(CareEntry.member_id), col(CareEntry.reason)).where(
            col(CareEntry.status) == OPEN, col(CareEntry.reason) != FEEDBACK
        )
    )
    return {int(member_id): reason for member_id, reason in rows.tuples().all()}


async def _supersede(session: AsyncSession, *, member_id: int, key: str, now: datetime) -> None:
    """Close the member's other open entries (not feedback): the new one says it better."""
    await session.execute(
        update(CareEntry)
        .where(
            col(CareEntry.member_id) == member_id,
            col(CareEntry.status) == OPEN,
            col(CareEntry.reason) != FEEDBACK,
            col(CareEntry.key) != key,
        )
        .values(status=CLOSED, action=SUPERSEDED, handled_at=now)
        .execution_options(synchronize_session=False)
    )


async def _listed_since(
    session: AsyncSession, *, reason: str, member_ids: Sequence[int], since: datetime
) -> set[int]:
    if not member_ids:
        return set()
    rows = await session.execute(
        select(col(CareEntry.member_id)).where(
            col(CareEntry.member_id).in_(list(member_ids)),
            col(CareEntry.reason) == reason,
            col(CareEntry.created_at) > since,
        )
    )
    return set(rows.scalars().all())


async def _feedback(
    session: AsyncSession, *, policy: Policy, now: datetime, stores: Collection[int] | None
) -> list[Found]:
    """Unhandled complaints and low ratings of recent visits: one entry per visit."""
    store = func.coalesce(col(Visit.store_id), col(Member.store_id))
    rows = await session.execute(
        select(col(Feedback.id), col(Feedback.visit_id), col(Member.id), store)
        .join(Member, col(Member.id) == col(Feedback.member_id))
        .join(Visit, col(Visit.id) == col(Feedback.visit_id))
        .where(
            col(Feedback.handled_at).is_(None),
            or_(
                col(Feedback.kind) == "complaint",
                and_(
                    col(Feedback.kind) == "rating",
                    col(Feedback.rating) <= policy.feedback.low_rating,
                ),
            ),
            col(Feedback.created_at) > now - HORIZON,
            col(Member.erased_at).is_(None),
            _in_stores(store, stores),
        )
        .order_by(col(Feedback.id))
    )
    return [
        Found(f"{FEEDBACK}:{visit_id}", int(store_id), int(member_id or 0), FEEDBACK, int(fid or 0))
        for fid, visit_id, member_id, store_id in rows.tuples().all()
    ]


async def _overdue(
    session: AsyncSession, *, policy: Policy, now: datetime, stores: Collection[int] | None
) -> list[Found]:
    """Members of the overdue tiers past their own rhythm by the margin, once per absence."""
    tiers = policy.care.overdue_tiers_in(policy.tiers)
    margin = policy.care.overdue_margin_days * _DAY
    listed_at = plus_seconds(
        col(Member.last_visit_at), col(Member.expected_interval_days) * _DAY + margin
    )
    held = exists().where(  # the absence itself cost them the tier: still one of them
        col(TierChange.member_id) == col(Member.id),
        col(TierChange.from_tier).in_(tiers),
        col(TierChange.at) >= col(Member.last_visit_at),
    )
    at = literal(now, UTCDateTime())
    rows = await session.execute(
        select(col(Member.id), col(Member.store_id), col(Member.last_visit_at)).where(
            col(Member.erased_at).is_(None),
            col(Member.last_visit_at).is_not(None),
            col(Member.expected_interval_days).is_not(None),
            col(Member.last_visit_at) <= now - timedelta(days=policy.care.overdue_margin_days),
            or_(col(Member.tier).in_(tiers), held),
            listed_at <= at,
            listed_at > literal(now - HORIZON, UTCDateTime()),
            _in_stores(col(Member.store_id), stores),
        )
    )
    return [
        Found(f"{OVERDUE}:{member_id}:{_stamp(last)}", int(store_id), int(member_id or 0), OVERDUE)
        for member_id, store_id, last in rows.tuples().all()
        if last is not None
    ]


def monthly_visits(now: datetime) -> tuple[Any, Any]:
    """(visits in the last 30 days, visits in the 30 days before) as SQL sums over Visit rows
    of the last 60 days."""
    recent = func.sum(case((col(Visit.at) > now - MONTH, 1), else_=0))
    before = func.sum(case((col(Visit.at) <= now - MONTH, 1), else_=0))
    return recent, before


async def _below(
    session: AsyncSession, *, policy: Policy, now: datetime, stores: Collection[int] | None
) -> list[Found]:
    minimum = policy.care.monthly_minimum
    if minimum <= 0:
        return []
    recent, before = monthly_visits(now)
    rows = await session.execute(
        select(col(Member.id), col(Member.store_id), recent, before)
        .join(Visit, col(Visit.member_id) == col(Member.id))
        .where(
            col(Visit.at) > now - 2 * MONTH,
            col(Visit.at) <= now,
            col(Visit.voided_at).is_(None),
            col(Member.erased_at).is_(None),
            _in_stores(col(Member.store_id), stores),
        )
        .group_by(col(Member.id), col(Member.store_id))
        .having(and_(recent < minimum, before >= minimum))
    )
    day = now.date().isoformat()
    return [
        Found(
            f"{BELOW}:{member_id}:{day}",
            int(store_id),
            int(member_id),
            BELOW,
            detail=f"visits={int(n)} before={int(b)}",
        )
        for member_id, store_id, n, b in rows.tuples().all()
    ]


async def _spend(
    session: AsyncSession, *, policy: Policy, now: datetime, stores: Collection[int] | None
) -> list[Found]:
    care = policy.care
    if care.spend_drop <= 0:
        return []
    n = care.spend_visits
    rows = await session.execute(
        select(col(Member.id), col(Member.store_id)).where(
            col(Member.erased_at).is_(None),
            col(Member.last_visit_at) > now - RECENT_VISIT,
            col(Member.visit_count) >= 2 * n,
            _in_stores(col(Member.store_id), stores),
        )
    )
    members = {int(m or 0): int(store) for m, store in rows.tuples().all()}
    bills = await _last_bills(session, member_ids=list(members), count=2 * n)
    found = []
    day = now.date().isoformat()
    for member_id, amounts in bills.items():
        if len(amounts) < 2 * n:
            continue
        recent = sum(amounts[:n], Decimal(0)) / n
        earlier = sum(amounts[n:], Decimal(0)) / n
        if earlier > 0 and recent <= earlier * (1 - Decimal(str(care.spend_drop))):
            detail = f"recent={recent.quantize(_CENT)} earlier={earlier.quantize(_CENT)}"
            found.append(
                Found(
                    f"{SPEND}:{member_id}:{day}",
                    int(members[member_id]),
                    member_id,
                    SPEND,
                    detail=detail,
                )
            )
    return found


async def _last_bills(
    session: AsyncSession, *, member_ids: Sequence[int], count: int
) -> dict[int, list[Decimal]]:
    """Each member's last `count` credited bills, newest first (one statement)."""
    if not member_ids:
        return {}
    order = func.row_number().over(
        partition_by=col(Payment.member_id),
        order_by=(col(Payment.credited_at).desc(), col(Payment.id).desc()),
    )
    ranked = (
        select(col(Payment.member_id), col(Payment.amount), order.label("n"))
        .where(col(Payment.member_id).in_(list(member_ids)), col(Payment.status) == CREDITED)
        .subquery()
    )
    rows = await session.execute(
        select(ranked.c.member_id, ranked.c.amount)
        .where(ranked.c.n <= count)
        .order_by(ranked.c.member_id, ranked.c.n)
    )
    bills: dict[int, list[Decimal]] = {}
    for member_id, amount in rows.tuples().all():
        bills.setdefault(int(member_id), []).append(Decimal(amount))
    return bills


async def _rising(
    session: AsyncSession, *, policy: Policy, now: datetime, stores: Collection[int] | None
) -> list[Found]:
    """Members whose gaps shorten (the lifecycle's "rising" turn), once per turn, while they
    are not overdue."""
    if not policy.care.thank_rising:
        return []
    rows = await session.execute(
        select(col(Member.id), col(Member.store_id), col(Member.turn_at)).where(
            col(Member.erased_at).is_(None),
            col(Member.turn) == Turn.RISING.value,
            col(Member.lapsed_due_at) > now,
            _in_stores(col(Member.store_id), stores),
        )
    )
    day = now.date().isoformat()
    return [
        Found(
            f"{RISING}:{member_id}:{_stamp(turned) if turned else day}",
            int(store_id),
            int(member_id or 0),
            RISING,
        )
        for member_id, store_id, turned in rows.tuples().all()
    ]


async def _gave_up(
    session: AsyncSession, *, policy: Policy, now: datetime, stores: Collection[int] | None
) -> list[Found]:
    """Members the win-back gave up on: ``ladder.max_unanswered_offers`` coupons in a row went
    unanswered, so it sends them care messages only (loyalty.offers); once per absence, for
    absences of the last GAVE_UP_HORIZON."""
    if not policy.care.list_gave_up:
        return []
    rows = await session.execute(
        select(col(Member.id), col(Member.store_id), col(Member.last_visit_at)).where(
            col(Member.erased_at).is_(None),
            col(Member.unanswered_offers) >= policy.ladder.max_unanswered_offers,
            col(Member.last_visit_at) > now - GAVE_UP_HORIZON,
            _in_stores(col(Member.store_id), stores),
        )
    )
    return [
        Found(f"{GAVE_UP}:{member_id}:{_stamp(last)}", int(store_id), int(member_id or 0), GAVE_UP)
        for member_id, store_id, last in rows.tuples().all()
        if last is not None
    ]


# -- the list ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Item:
    """One entry as a manager sees it."""

    entry_id: int
    store_id: int
    member_id: int
    reason: str
    name: str
    tier: str
    last_visit_at: datetime | None
    rhythm_days: Decimal | None
    """The member's usual rhythm: their expected interval between visits."""
    last_rating: int | None
    facts: dict[str, str] = field(default_factory=dict)
    """What the detection saw (below: visits, before; spend: recent, earlier)."""
    complaint: str = ""
    """A feedback entry: what they wrote about the visit."""


@dataclass(frozen=True, slots=True)
class CareList:
    items: tuple[Item, ...]
    more: int
    """Open entries beyond these (the list is kept short)."""


_PRIORITY = case(*((col(CareEntry.reason) == r, i) for i, r in enumerate(REASONS)), else_=99)


def _last_rating() -> Any:
    return (
        select(col(Feedback.rating))
        .where(col(Feedback.member_id) == col(Member.id), col(Feedback.kind) == "rating")
        .order_by(col(Feedback.created_at).desc(), col(Feedback.id).desc())
        .limit(1)
        .scalar_subquery()
    )


def _entry_visit() -> Any:
    """The visit an entry's feedback is about (a scalar subquery on its own alias)."""
    entry_feedback = aliased(Feedback)
    return (
        select(col(entry_feedback.visit_id))
        .where(col(entry_feedback.id) == col(CareEntry.feedback_id))
        .scalar_subquery()
    )


def _complaint_text() -> Any:
    return (
        select(col(Feedback.text))
        .where(
            col(Feedback.visit_id) == _entry_visit(),
            col(Feedback.kind) == "complaint",
        )
        .limit(1)
        .scalar_subquery()
    )


def _entries(stores: Collection[int] | None) -> Select[Any]:
    return (
        select(
            CareEntry,
            col(Member.display_name),
            col(Member.tier),
            col(Member.last_visit_at),
            col(Member.expected_interval_days),
            _last_rating(),
            _complaint_text(),
        )
        .join(Member, col(Member.id) == col(CareEntry.member_id))
        .where(_in_stores(col(CareEntry.store_id), stores))
    )


def _item(row: Any) -> Item:
    entry, name, tier, last, rhythm, rating, complaint = row
    assert entry.id is not None
    facts = dict(part.split("=", 1) for part in entry.detail.split() if "=" in part)
    return Item(
        entry_id=entry.id,
        store_id=entry.store_id,
        member_id=entry.member_id,
        reason=entry.reason,
        name=name,
        tier=tier,
        last_visit_at=last,
        rhythm_days=rhythm,
        last_rating=rating,
        facts=facts,
        complaint=complaint or "",
    )


async def open_entries(
    session: AsyncSession, *, policy: Policy, now: datetime, stores: Collection[int] | None
) -> CareList:
    """The entries to show as of `now` in `stores` (None: all), most pressing first, at most
    ``care.max_entries``; entries no longer needed are closed first."""
    await close_stale(session, now=now, stores=stores)
    due = (col(CareEntry.status) == OPEN, col(CareEntry.due_at) <= now)
    rows = await session.execute(
        _entries(stores)
        .where(*due)
        .order_by(_PRIORITY, col(CareEntry.created_at), col(CareEntry.id))
        .limit(policy.care.max_entries)
    )
    items = tuple(_item(row) for row in rows.tuples().all())
    total = await session.scalar(
        select(func.count())
        .select_from(CareEntry)
        .where(*due, _in_stores(col(CareEntry.store_id), stores))
    )
    return CareList(items, max(int(total or 0) - len(items), 0))


async def close_stale(
    session: AsyncSession, *, now: datetime, stores: Collection[int] | None
) -> int:
    """Close open entries that need nobody any more: the member erased their data; an absent
    member came back (overdue, gave up: any visit since; below, spend: a visit since the entry,
    which a new detection judges afresh); a rising member stopped rising or is overdue; the
    feedback was handled in /feedback."""
    came_back = col(Member.last_visit_at) > col(CareEntry.created_at)
    open_feedback = exists().where(
        col(Feedback.visit_id) == _entry_visit(),
        col(Feedback.handled_at).is_(None),
        col(Feedback.kind).in_(("complaint", "rating")),
    )
    reason = col(CareEntry.reason)
    why = case(
        (col(Member.erased_at).is_not(None), ERASED),
        (reason.in_((OVERDUE, BELOW, SPEND, GAVE_UP)) & came_back, VISITED),
        (
            (reason == RISING)
            & ((col(Member.turn) != Turn.RISING.value) | (col(Member.lapsed_due_at) <= now)),
            RESOLVED,
        ),
        ((reason == FEEDBACK) & ~open_feedback, RESOLVED),
        else_=None,
    )
    rows = (
        await session.execute(
            select(col(CareEntry.id), why)
            .join(Member, col(Member.id) == col(CareEntry.member_id))
            .where(col(CareEntry.status) == OPEN, _in_stores(col(CareEntry.store_id), stores))
        )
    ).all()
    stale = [(entry_id, action) for entry_id, action in rows if action is not None]
    for action in {a for _, a in stale}:
        await session.execute(
            update(CareEntry)
            .where(col(CareEntry.id).in_([i for i, a in stale if a == action]))
            .values(status=CLOSED, action=action, handled_at=now)
            .execution_options(synchronize_session=False)
        )
    return len(stale)


async def mark_listed(session: AsyncSession, *, entry_ids: Sequence[int], now: datetime) -> None:
    """The entries went out on a list; those listed once (the win-back gave up) are not listed
    again, their buttons still work."""
    if not entry_ids:
        return
    await session.execute(
        update(CareEntry)
        .where(col(CareEntry.id).in_(list(entry_ids)))
        .values(
            listed_at=now,
            status=case(
                ((col(CareEntry.reason) == GAVE_UP) & (col(CareEntry.status) == OPEN), SHOWN),
                else_=col(CareEntry.status),
            ),
        )
        .execution_options(synchronize_session=False)
    )


async def todays_list(
    session: AsyncSession, *, telegram_id: int, role: Role, policy: Policy, now: datetime
) -> CareList:
    """`/care`: what is on the list now in the stores this person manages (owners: all);
    detected afresh, and marked listed."""
    stores = await roles.managed_stores(session, telegram_id=telegram_id, role=role)
    if stores is not None and not stores:
        raise CareProblem("unknown")
    await detect(session, policy=policy, now=now, stores=stores)
    listing = await open_entries(session, policy=policy, now=now, stores=stores)
    await mark_listed(session, entry_ids=[i.entry_id for i in listing.items], now=now)
    return listing


# -- a manager's actions -----------------------------------------------------------------------


async def _entry(
    session: AsyncSession, *, entry_id: int, telegram_id: int, role: Role
) -> CareEntry:
    """The entry, when this person manages its store (CareProblem "unknown" otherwise)."""
    stores = await roles.managed_stores(session, telegram_id=telegram_id, role=role)
    entry = await session.get(CareEntry, entry_id)
    if entry is None or (stores is not None and entry.store_id not in stores):
        raise CareProblem("unknown")
    return entry


def _handle(entry: CareEntry, *, action: str, by: int, now: datetime) -> None:
    if entry.status not in ACTIONABLE:
        raise CareProblem("already", since=entry.handled_at)
    entry.status = DONE
    entry.action = action
    entry.handled_at = now
    entry.handled_by = by


async def _audit(
    session: AsyncSession, *, action: str, entry: CareEntry, by: int, now: datetime
) -> None:
    await queries.add_audit(
        session,
        actor_telegram_id=by,
        action=f"care.{action}",
        detail=f"entry={entry.id} member={entry.member_id} reason={entry.reason}",
        now=now,
    )


async def done(
    session: AsyncSession, *, entry_id: int, telegram_id: int, role: Role, now: datetime
) -> CareEntry:
    """Done: handled. A feedback entry also marks the visit's complaint and rating handled."""
    entry = await _entry(session, entry_id=entry_id, telegram_id=telegram_id, role=role)
    _handle(entry, action=HANDLED, by=telegram_id, now=now)
    if entry.feedback_id is not None:
        visit = await session.scalar(
            select(col(Feedback.visit_id)).where(col(Feedback.id) == entry.feedback_id)
        )
        await session.execute(
            update(Feedback)
            .where(
                col(Feedback.visit_id) == visit,
                col(Feedback.handled_at).is_(None),
            )
            .values(handled_at=now, handled_by=telegram_id)
            .execution_options(synchronize_session=False)
        )
    await _audit(session, action="done", entry=entry, by=telegram_id, now=now)
    return entry


async def later(
    session: AsyncSession,
    *,
    entry_id: int,
    telegram_id: int,
    role: Role,
    policy: Policy,
    now: datetime,
) -> datetime:
    """Later: off the list until the start of the store's day ``care.later_days`` on (so it is
    on that morning's list); that moment."""
    entry = await _entry(session, entry_id=entry_id, telegram_id=telegram_id, role=role)
    if entry.status not in ACTIONABLE:
        raise CareProblem("already", since=entry.handled_at)
    timezone = await session.scalar(
        select(col(Store.timezone)).where(col(Store.id) == entry.store_id)
    )
    zone = ZoneInfo(timezone or "UTC")
    day = now.astimezone(zone).date() + timedelta(days=policy.care.later_days)
    entry.due_at = datetime.combine(day, time(0), tzinfo=zone).astimezone(now.tzinfo)
    entry.status = OPEN
    await _audit(session, action=LATER, entry=entry, by=telegram_id, now=now)
    return entry.due_at


async def _reachable(session: AsyncSession, *, member_id: int, policy: Policy) -> Recipient:
    """The member as a recipient; CareProblem when no message may or can reach them."""
    found = await outbox.recipients(session, member_ids=[member_id])
    if not found or found[0].blocked:
        raise CareProblem("unreachable")
    if found[0].consent is False:  # they said stop: a personal note is still a message
        raise CareProblem("no_consent")
    return found[0]


async def can_write(
    session: AsyncSession, *, entry_id: int, telegram_id: int, role: Role, policy: Policy
) -> Item:
    """Before the manager types: the entry is theirs, open, and the member can be written to."""
    entry = await _entry(session, entry_id=entry_id, telegram_id=telegram_id, role=role)
    if entry.status not in ACTIONABLE:
        raise CareProblem("already", since=entry.handled_at)
    await _reachable(session, member_id=entry.member_id, policy=policy)
    row = (await session.execute(_entries(None).where(col(CareEntry.id) == entry_id))).one()
    return _item(row)


def clean_note(text: str | None) -> str:
    cleaned = (text or "").strip()
    if not cleaned:
        raise CareProblem("empty")
    if len(cleaned) > MAX_NOTE:
        raise CareProblem("too_long")
    return cleaned


@dataclass(frozen=True, slots=True)
class Sent:
    """A message to a member is in the outbox; `at` is when it goes (after quiet hours)."""

    member_id: int
    at: datetime
    deferred: bool


async def send_note(
    session: AsyncSession,
    *,
    entry_id: int,
    telegram_id: int,
    role: Role,
    note: str | None,
    policy: Policy,
    now: datetime,
    render: Callable[[Recipient, str], str],
) -> Sent:
    """Write to them: `render(member, note)` is the message in the member's language (the
    store's name and the manager's first name around the note). Once per entry."""
    cleaned = clean_note(note)
    entry = await _entry(session, entry_id=entry_id, telegram_id=telegram_id, role=role)
    if entry.status not in ACTIONABLE:
        raise CareProblem("already", since=entry.handled_at)
    person = await _reachable(session, member_id=entry.member_id, policy=policy)
    when = outbox.next_send_time(now, quiet=policy.caps.quiet_hours, timezone=person.timezone)
    await outbox.enqueue_one(
        session,
        telegram_id=person.telegram_id,
        member_id=person.member_id,
        text=render(person, cleaned),
        dedupe=f"care-note:{entry_id}",
        now=now,
        marketing=False,  # care: no weekly cap, and it does not use up the member's
        at=when,
    )
    _handle(entry, action=WROTE, by=telegram_id, now=now)
    await _audit(session, action="write", entry=entry, by=telegram_id, now=now)
    return Sent(person.member_id, when, when > now)


# -- the survey --------------------------------------------------------------------------------

SurveyRender = Callable[[Recipient, int], tuple[str, str]]
"""(member, survey id) → (the question in their language, its buttons as outbox JSON)."""


def asked_recently_since(now: datetime, *, every_days: int) -> datetime:
    """A survey asked at or after this moment is too recent to ask again. Counted in whole
    (UTC) days: a member asked on a morning may be asked again on the morning `every_days` days
    later, whatever minute each question went out."""
    day = (now - timedelta(days=every_days)).replace(hour=0, minute=0, second=0, microsecond=0)
    return day + timedelta(days=1)


async def _last_asked(session: AsyncSession, *, member_id: int, since: datetime) -> datetime | None:
    asked: datetime | None = await session.scalar(
        select(func.max(col(CareSurvey.asked_at))).where(
            col(CareSurvey.member_id) == member_id, col(CareSurvey.asked_at) >= since
        )
    )
    return asked


async def _send_survey(
    session: AsyncSession,
    *,
    person: Recipient,
    store_id: int,
    asked_by: int | None,
    entry_id: int | None,
    policy: Policy,
    now: datetime,
    render: SurveyRender,
) -> Sent:
    survey = CareSurvey(
        member_id=person.member_id,
        store_id=store_id,
        entry_id=entry_id,
        asked_at=now,
        asked_by=asked_by,
    )
    session.add(survey)
    await session.flush()
    assert survey.id is not None
    text, buttons = render(person, survey.id)
    when = outbox.next_send_time(now, quiet=policy.caps.quiet_hours, timezone=person.timezone)
    await outbox.enqueue_one(
        session,
        telegram_id=person.telegram_id,
        member_id=person.member_id,
        text=text,
        dedupe=f"why:{survey.id}",
        now=now,
        marketing=False,
        buttons=buttons,
        at=when,
    )
    return Sent(person.member_id, when, when > now)


async def ask_why(
    session: AsyncSession,
    *,
    entry_id: int,
    telegram_id: int,
    role: Role,
    policy: Policy,
    now: datetime,
    render: SurveyRender,
) -> Sent:
    """Ask why (from the care list): the survey, unless the member was asked within
    ``survey.every_days`` (CareProblem "asked_recently", with when)."""
    entry = await _entry(session, entry_id=entry_id, telegram_id=telegram_id, role=role)
    if entry.status not in ACTIONABLE:
        raise CareProblem("already", since=entry.handled_at)
    person = await _reachable(session, member_id=entry.member_id, policy=policy)
    since = asked_recently_since(now, every_days=policy.survey.every_days)
    asked = await _last_asked(session, member_id=entry.member_id, since=since)
    if asked is not None:
        raise CareProblem("asked_recently", since=asked)
    sent = await _send_survey(
        session,
        person=person,
        store_id=entry.store_id,
        asked_by=telegram_id,
        entry_id=entry.id,
        policy=policy,
        now=now,
        render=render,
    )
    _handle(entry, action=ASKED, by=telegram_id, now=now)
    await _audit(session, action="ask", entry=entry, by=telegram_id, now=now)
    return sent


async def survey_audience(
    session: AsyncSession, *, store_id: int, policy: Policy, now: datetime
) -> list[int]:
    """Whom the policy asks: members of the store who came at least once but fewer than
    ``care.monthly_minimum`` times in the last 30 days and are on their own rhythm (the lapsed
    hear from the win-back ladder: one message about one absence is enough), members for
    ``survey.min_membership_days``, not asked within ``survey.every_days``, who did not say no
    to messages and can be reached."""
    minimum = policy.care.monthly_minimum
    if minimum <= 1 or not policy.survey.auto:
        return []
    asked = exists().where(
        col(CareSurvey.member_id) == col(Member.id),
        col(CareSurvey.asked_at) >= asked_recently_since(now, every_days=policy.survey.every_days),
    )
    consent = col(Member.marketing_consent)
    rows = await session.execute(
        select(col(Member.id))
        .join(Visit, col(Visit.member_id) == col(Member.id))
        .join(TelegramUser, col(TelegramUser.id) == col(Member.telegram_user_id))
        .where(
            col(Member.store_id) == store_id,
            col(Member.erased_at).is_(None),
            col(Member.enrolled_at) <= now - timedelta(days=policy.survey.min_membership_days),
            col(Member.lapsed_due_at) > now,
            or_(consent.is_(None), consent.is_(True)),
            col(TelegramUser.blocked_at).is_(None),
            col(Visit.at) > now - MONTH,
            col(Visit.at) <= now,
            col(Visit.voided_at).is_(None),
            ~asked,
        )
        .group_by(col(Member.id))
        .having(func.count() < minimum)
        .order_by(col(Member.id))
    )
    return [int(m) for m in rows.scalars().all() if m is not None]


async def plan_surveys(
    session: AsyncSession, *, store_id: int, policy: Policy, now: datetime, render: SurveyRender
) -> int:
    """The policy's surveys for one store as of `now`: how many were queued."""
    ids = await survey_audience(session, store_id=store_id, policy=policy, now=now)
    people = await outbox.recipients(session, member_ids=ids)
    for person in people:
        await _send_survey(
            session,
            person=person,
            store_id=store_id,
            asked_by=None,
            entry_id=None,
            policy=policy,
            now=now,
            render=render,
        )
    return len(people)


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    survey_id: int
    member_id: int
    store_id: int
    name: str
    tier: str
    reason: str
    text: str
    first: bool
    """False: the survey had its answer already; nothing was written."""


async def _own_survey(
    session: AsyncSession, *, survey_id: int, telegram_id: int
) -> tuple[CareSurvey, Member]:
    row = (
        await session.execute(
            select(CareSurvey, Member)
            .join(Member, col(Member.id) == col(CareSurvey.member_id))
            .join(TelegramUser, col(TelegramUser.id) == col(Member.telegram_user_id))
            .where(
                col(CareSurvey.id) == survey_id,
                col(TelegramUser.telegram_id) == telegram_id,
                col(Member.erased_at).is_(None),
            )
        )
    ).one_or_none()
    if row is None:
        raise CareProblem("not_yours")
    return row[0], row[1]


def _answer(survey: CareSurvey, member: Member, *, text: str, first: bool) -> Answer:
    assert survey.id is not None
    assert member.id is not None
    return Answer(
        survey_id=survey.id,
        member_id=member.id,
        store_id=survey.store_id,
        name=member.display_name,
        tier=member.tier,
        reason=survey.reason or "",
        text=text,
        first=first,
    )


async def answer(
    session: AsyncSession, *, survey_id: int, telegram_id: int, reason: str, now: datetime
) -> Answer:
    """The member's one tap: the first stands. The answer is a feedback item of kind "survey"
    whose text is the reason's key (see `survey_text`)."""
    if reason not in SURVEY_REASONS:
        raise CareProblem("not_yours")  # not a button we made
    survey, member = await _own_survey(session, survey_id=survey_id, telegram_id=telegram_id)
    if survey.answered_at is not None:
        return _answer(survey, member, text="", first=False)
    assert member.id is not None
    item = Feedback(member_id=member.id, kind=SURVEY_KIND, text=reason, created_at=now)
    session.add(item)
    await session.flush()
    survey.reason = reason
    survey.answered_at = now
    survey.feedback_id = item.id
    return _answer(survey, member, text="", first=True)


async def answer_text(
    session: AsyncSession, *, survey_id: int, telegram_id: int, text: str | None, now: datetime
) -> Answer:
    """What they wrote after "other" (once)."""
    cleaned = clean_note(text)
    survey, member = await _own_survey(session, survey_id=survey_id, telegram_id=telegram_id)
    item = await session.get(Feedback, survey.feedback_id) if survey.feedback_id else None
    if item is None or item.text != OTHER:
        raise CareProblem("answered")
    item.text = survey_text(OTHER, cleaned)
    return _answer(survey, member, text=cleaned, first=True)


def survey_text(reason: str, words: str = "") -> str:
    """A survey answer as a feedback item's text: the reason's key, then on the next line what
    they wrote after "other" (an erasure clears it; the reason stays on the survey row)."""
    return f"{reason}\n{words}" if words else reason


def read_survey_text(text: str) -> tuple[str, str]:
    """(reason key, their words) of a survey answer's feedback text; ("", "") once erased."""
    reason, _newline, words = text.partition("\n")
    return reason, words
