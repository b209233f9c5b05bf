"""Feedback: the post-visit rating (1–5 stars), the complaint after a low one, suggestions, and
the managers' inbox.

- A rating is recorded once per visit (unique visit × kind): the first press counts, a second
  press or a redelivered update changes nothing. Only the member whose visit it is may rate it.
- A rating at or below ``policy.feedback.low_rating`` asks what went wrong; the answer is a
  complaint on the same visit, which goes to every owner and manager at once.
- Suggestions (`/suggest`, or the button after a good rating), at most SUGGESTIONS_PER_DAY a
  day. A manager may adopt one (seed 001: "合理建議"): the member is thanked and, when the policy
  says so (``feedback.adopted_coupon``), gets a coupon; adopted suggestions count toward tiers
  (see loyalty.tiers), so a tier cannot be bought with one-word messages.
- The inbox lists what is not handled yet; "handled" is set once, with who did it, and audited.

Role checks belong to the caller (the handler knows the role of the update); these functions
check only that a diner touches their own visits.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import Select, String, and_, case, cast, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from loyalty import coupons, roles
from loyalty.coupons import CouponView
from loyalty.errors import Problem
from loyalty.policy import Policy
from models import queries
from models.tables import Feedback, Member, OutboxMessage, Role, Store, TelegramUser, Visit

RATING, COMPLAINT, SUGGESTION = "rating", "complaint", queries.SUGGESTION
MAX_TEXT = 2000
"""The longest complaint or suggestion kept (the column's size)."""
SUGGESTIONS_PER_DAY = 3
SUMMARY_DAYS = 30
REQUEST_PREFIX = "feedback:"
"""Dedupe key of the request about a visit: f"feedback:{visit_id}"."""


class FeedbackProblem(Problem):
    """reason: not_yours (someone else's visit, or no such visit), empty, too_long, not_member,
    too_many (suggestions today), already (this visit has one), unknown (no such item),
    not_suggestion (only a suggestion can be adopted)."""


def clean_text(text: str | None) -> str:
    """The text of a complaint or suggestion, stripped; FeedbackProblem when empty or too long."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise FeedbackProblem("empty")
    if len(cleaned) > MAX_TEXT:
        raise FeedbackProblem("too_long")
    return cleaned


# -- asking -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Ask:
    """A visit whose member is due the question "how was it?"."""

    visit_id: int
    member_id: int
    telegram_id: int
    locale: str | None
    language_code: str | None
    timezone: str
    store_name: str


def request_key(visit_id: int) -> str:
    return f"{REQUEST_PREFIX}{visit_id}"


async def due_requests(
    session: AsyncSession,
    *,
    now: datetime,
    after: timedelta,
    recent: timedelta,
    consent_required: bool = True,
    limit: int = 500,
) -> list[Ask]:
    """Visits from `after` to `after + recent` ago whose member has not been asked yet.

    Left out: voided visits, erased members, members without a Telegram user or who blocked the
    bot, members who said no to messages (`marketing_consent` False, when `consent_required`),
    and a visit followed by another of the same member (they are asked about the later one).
    One statement; the request's own dedupe key in the outbox says "asked"."""
    later = aliased(Visit)
    asked = exists().where(
        col(OutboxMessage.dedupe_key) == REQUEST_PREFIX + cast(col(Visit.id), String)
    )
    followed = exists().where(
        col(later.member_id) == col(Visit.member_id),
        col(later.at) > col(Visit.at),
        col(later.voided_at).is_(None),
    )
    query = (
        select(
            col(Visit.id),
            col(Member.id),
            col(TelegramUser.telegram_id),
            col(TelegramUser.locale),
            col(TelegramUser.language_code),
            col(Store.timezone),
            col(Store.name),
        )
        .join(Member, col(Member.id) == col(Visit.member_id))
        .join(TelegramUser, col(TelegramUser.id) == col(Member.telegram_user_id))
        .join(Store, col(Store.id) == col(Visit.store_id))
        .where(
            col(Visit.at) <= now - after,
            col(Visit.at) > now - after - recent,
            col(Visit.voided_at).is_(None),
            col(Member.erased_at).is_(None),
            col(TelegramUser.blocked_at).is_(None),
            ~asked,
            ~followed,
        )
        .order_by(col(Visit.at), col(Visit.id))
        .limit(limit)
    )
    if consent_required:  # not False: None (never answered) is asked
        consent = col(Member.marketing_consent)
        query = query.where(or_(consent.is_(None), consent.is_(True)))
    rows = await session.execute(query)
    return [
        Ask(int(visit or 0), int(member or 0), telegram_id, locale, code, zone, store)
        for visit, member, telegram_id, locale, code, zone, store in rows.tuples().all()
    ]


# -- a diner's answers --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rated:
    feedback_id: int
    visit_id: int
    rating: int
    """The rating that stands (the first one, when this press was not the first)."""
    first: bool
    """False: the visit was rated before; nothing was written."""
    low: bool
    member_id: int = 0
    display_name: str = ""
    tier: str = ""
    store_id: int = 0
    """The store of the visit: its managers hear of a low rating."""


async def _own_visit(
    session: AsyncSession, *, visit_id: int, telegram_id: int
) -> tuple[Member, int]:
    """The member of this visit and the visit's store, when `telegram_id` is theirs;
    FeedbackProblem otherwise."""
    row = (
        await session.execute(
            select(Member, col(Visit.store_id))
            .join(Visit, col(Visit.member_id) == col(Member.id))
            .join(TelegramUser, col(TelegramUser.id) == col(Member.telegram_user_id))
            .where(
                col(Visit.id) == visit_id,
                col(Visit.voided_at).is_(None),
                col(Member.erased_at).is_(None),
                col(TelegramUser.telegram_id) == telegram_id,
            )
        )
    ).one_or_none()
    if row is None:
        raise FeedbackProblem("not_yours")
    member, store_id = row
    return member, int(store_id)


async def _on_visit(session: AsyncSession, *, visit_id: int, kind: str) -> Feedback | None:
    return (
        await session.execute(
            select(Feedback).where(col(Feedback.visit_id) == visit_id, col(Feedback.kind) == kind)
        )
    ).scalar_one_or_none()


async def rate(
    session: AsyncSession,
    *,
    visit_id: int,
    telegram_id: int,
    stars: int,
    low_rating: int,
    now: datetime,
) -> Rated:
    """Record the member's rating of their visit, once."""
    if not 1 <= stars <= 5:
        raise FeedbackProblem("not_yours")  # not a button we made
    member, store_id = await _own_visit(session, visit_id=visit_id, telegram_id=telegram_id)
    assert member.id is not None
    row = Feedback(
        member_id=member.id, visit_id=visit_id, kind=RATING, rating=stars, created_at=now
    )
    first = await queries.insert_unless_exists(session, row, unique=("visit_id", "kind"))
    if not first:
        found = await _on_visit(session, visit_id=visit_id, kind=RATING)
        assert found is not None
        row = found
    assert row.id is not None
    assert row.rating is not None
    return Rated(
        row.id,
        visit_id,
        row.rating,
        first,
        row.rating <= low_rating,
        member_id=member.id,
        display_name=member.display_name,
        tier=member.tier,
        store_id=store_id,
    )


@dataclass(frozen=True, slots=True)
class Complaint:
    feedback_id: int
    member_id: int
    display_name: str
    tier: str
    rating: int | None
    text: str
    store_id: int
    """The store of the visit: its managers hear of it."""


async def complain(
    session: AsyncSession, *, visit_id: int, telegram_id: int, text: str | None, now: datetime
) -> Complaint:
    """What went wrong at this visit, in the member's words (once per visit)."""
    cleaned = clean_text(text)
    member, store_id = await _own_visit(session, visit_id=visit_id, telegram_id=telegram_id)
    assert member.id is not None
    row = Feedback(
        member_id=member.id, visit_id=visit_id, kind=COMPLAINT, text=cleaned, created_at=now
    )
    if not await queries.insert_unless_exists(session, row, unique=("visit_id", "kind")):
        raise FeedbackProblem("already")
    assert row.id is not None
    rating = await _on_visit(session, visit_id=visit_id, kind=RATING)
    return Complaint(
        feedback_id=row.id,
        member_id=member.id,
        display_name=member.display_name,
        tier=member.tier,
        rating=rating.rating if rating is not None else None,
        text=cleaned,
        store_id=store_id,
    )


async def suggest(
    session: AsyncSession,
    *,
    telegram_id: int,
    text: str | None,
    now: datetime,
    visit_id: int | None = None,
) -> int:
    """A member's suggestion (about a visit of theirs, after its rating, or about anything):
    its id. Members only; SUGGESTIONS_PER_DAY at most in any 24 hours."""
    member = await queries.get_member_by_telegram_id(session, telegram_id=telegram_id)
    if member is None or member.erased_at is not None or member.id is None:
        raise FeedbackProblem("not_member")
    cleaned = clean_text(text)
    if visit_id is not None:
        own, _store = await _own_visit(session, visit_id=visit_id, telegram_id=telegram_id)
        assert own.id == member.id
    today = await queries.count_suggestions(
        session, member_id=member.id, since=now - timedelta(days=1)
    )
    if today >= SUGGESTIONS_PER_DAY:
        raise FeedbackProblem("too_many")
    row = Feedback(
        member_id=member.id, visit_id=visit_id, kind=SUGGESTION, text=cleaned, created_at=now
    )
    if visit_id is None:
        session.add(row)
        await session.flush()
    elif not await queries.insert_unless_exists(session, row, unique=("visit_id", "kind")):
        raise FeedbackProblem("already")
    assert row.id is not None
    return row.id


async def is_member(session: AsyncSession, *, telegram_id: int) -> bool:
    member = await queries.get_member_by_telegram_id(session, telegram_id=telegram_id)
    return member is not None and member.erased_at is None


async def staff_to_tell(
    session: AsyncSession, *, owner_ids: Collection[int], store_id: int
) -> list[int]:
    """Who hears of a complaint at once: every owner and the store's active managers, once
    each (a manager of another store of the chain does not)."""
    found = dict.fromkeys(owner_ids)
    found.update(dict.fromkeys(await queries.manager_telegram_ids(session, store_id=store_id)))
    return list(found)


# -- the inbox ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    id: int
    kind: str
    rating: int | None
    text: str
    created_at: datetime
    member_id: int
    display_name: str
    tier: str


@dataclass(frozen=True, slots=True)
class Inbox:
    average: Decimal | None
    """The average rating of the last SUMMARY_DAYS days (one decimal), None without ratings."""
    ratings: int
    open_count: int
    items: Sequence[Item]


_KIND_ORDER = case(
    (col(Feedback.kind) == COMPLAINT, 0), (col(Feedback.kind) == SUGGESTION, 1), else_=2
)


_STORE = func.coalesce(col(Visit.store_id), col(Member.store_id))
"""A feedback's store: its visit's, else (a suggestion about nothing in particular) the
member's."""


def _about(stores: frozenset[int] | None, *columns: Any) -> Select[Any]:
    """`columns` of Feedback joined to its member, about `stores` only (None: every store, an
    owner's view)."""
    query = (
        select(*columns)
        .select_from(Feedback)
        .join(Member, col(Member.id) == col(Feedback.member_id))
    )
    if stores is None:
        return query
    query = query.outerjoin(Visit, col(Visit.id) == col(Feedback.visit_id))
    return query.where(_STORE.in_(sorted(stores)))


async def inbox(
    session: AsyncSession, *, telegram_id: int, role: Role, now: datetime, limit: int = 10
) -> Inbox:
    """Open items about the stores this person manages (an owner: all), complaints first,
    then suggestions, then ratings (newest first within each), and the ratings of the last
    SUMMARY_DAYS days."""
    stores = await roles.managed_stores(session, telegram_id=telegram_id, role=role)
    since = now - timedelta(days=SUMMARY_DAYS)
    recent_ratings = _about(stores, func.avg(col(Feedback.rating)), func.count()).where(
        col(Feedback.kind) == RATING, col(Feedback.created_at) >= since
    )
    average, ratings = (await session.execute(recent_ratings)).one()
    open_ = col(Feedback.handled_at).is_(None)
    open_count = int(await session.scalar(_about(stores, func.count()).where(open_)) or 0)
    rows = await session.execute(
        _about(
            stores,
            col(Feedback.id),
            col(Feedback.kind),
            col(Feedback.rating),
            col(Feedback.text),
            col(Feedback.created_at),
            col(Member.id),
            col(Member.display_name),
            col(Member.tier),
        )
        .where(open_)
        .order_by(_KIND_ORDER, col(Feedback.created_at).desc(), col(Feedback.id).desc())
        .limit(limit)
    )
    mean = None
    if ratings:
        mean = Decimal(str(average)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    items = [
        Item(int(i or 0), kind, rating, text, at, int(member or 0), name, tier)
        for i, kind, rating, text, at, member, name, tier in rows.tuples().all()
    ]
    return Inbox(mean, int(ratings), open_count, items)


async def mark_handled(
    session: AsyncSession,
    *,
    feedback_id: int,
    by_telegram_id: int,
    role: Role,
    now: datetime,
) -> bool:
    """Set handled once: True now, False when it was handled before (nothing changes).
    Feedback about a store this person does not manage is "unknown" to them."""
    stores = await roles.managed_stores(session, telegram_id=by_telegram_id, role=role)
    found = await session.scalar(
        _about(stores, col(Feedback.id)).where(col(Feedback.id) == feedback_id)
    )
    if found is None:  # no such item, or about a store this person does not manage
        raise FeedbackProblem("unknown")
    done = await session.execute(
        update(Feedback)
        .where(and_(col(Feedback.id) == feedback_id, col(Feedback.handled_at).is_(None)))
        .values(handled_at=now, handled_by=by_telegram_id)
        .execution_options(synchronize_session=False)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        return False
    await queries.add_audit(
        session,
        actor_telegram_id=by_telegram_id,
        action="feedback.handled",
        detail=f"feedback={feedback_id}",
        now=now,
    )
    return True


@dataclass(frozen=True, slots=True)
class Adopted:
    """A suggestion a manager adopted: whom to thank, for what, and the coupon they got."""

    member_id: int
    telegram_id: int | None
    text: str
    coupon: CouponView | None


async def adopt(
    session: AsyncSession,
    *,
    feedback_id: int,
    by_telegram_id: int,
    role: Role,
    policy: Policy,
    now: datetime,
) -> Adopted | None:
    """Adopt a suggestion once (it is handled too): the member gets the policy's
    ``feedback.adopted_coupon`` when there is one, and the suggestion counts toward their tier.
    None when it was adopted before (a double tap: nothing changes, no second coupon)."""
    stores = await roles.managed_stores(session, telegram_id=by_telegram_id, role=role)
    found = (
        await session.execute(
            _about(stores, col(Feedback.kind), col(Feedback.member_id), col(Feedback.text)).where(
                col(Feedback.id) == feedback_id
            )
        )
    ).first()
    if found is None:  # no such item, or about a store this person does not manage
        raise FeedbackProblem("unknown")
    kind, member_id, text = found
    if kind != SUGGESTION:
        raise FeedbackProblem("not_suggestion")
    done = await session.execute(
        update(Feedback)
        .where(and_(col(Feedback.id) == feedback_id, col(Feedback.adopted_at).is_(None)))
        .values(
            adopted_at=now,
            adopted_by=by_telegram_id,
            handled_at=func.coalesce(col(Feedback.handled_at), now),
            handled_by=func.coalesce(col(Feedback.handled_by), by_telegram_id),
        )
        .execution_options(synchronize_session=False)
    )
    if not done.rowcount:  # type: ignore[attr-defined]
        return None
    coupon = None
    template = policy.feedback.adopted_coupon
    if template is not None:
        coupon = await coupons.issue(
            session,
            member_id=int(member_id),
            template_key=template,
            policy=policy,
            now=now,
            campaign="gift",
            issued_by=by_telegram_id,
        )
    await queries.add_audit(
        session,
        actor_telegram_id=by_telegram_id,
        action="feedback.adopted",
        detail=f"feedback={feedback_id} member={member_id}"
        + (f" coupon={coupon.id}" if coupon is not None else ""),
        now=now,
    )
    telegram_id = await queries.member_telegram_id(session, member_id=int(member_id))
    return Adopted(int(member_id), telegram_id, str(text), coupon)
