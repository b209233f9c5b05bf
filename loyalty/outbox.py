"""Campaigns and the outbox: who gets a message, and the queue the delivery worker drains.

Planning a campaign (`plan`): audience → eligible (marketing consent, not blocked or erased, the
frequency cap across all marketing, quiet hours in the store's time zone → deferred, not dropped)
→ the holdout share (recorded, never sent) → one outbox row per member with a unique dedupe key
(campaign kind, period, member): planning twice adds nothing. Everything is done a batch of
members at a time with a handful of statements per batch.

Delivery (`claim`, `mark_*`): rows are claimed in batches with a lease (`FOR UPDATE SKIP LOCKED`
on PostgreSQL, so several workers never take the same row); a worker that dies leaves its rows
"sending" until the lease runs out, then they are claimed again — nothing is lost, and only the
messages that were in flight can be sent twice.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loyalty.policy import Policy, QuietHours
from models.tables import Campaign, Member, OutboxMessage, Store, TelegramUser

PENDING, SENDING, SENT, HOLDOUT = "pending", "sending", "sent", "holdout"
UNREACHABLE, FAILED, CANCELLED = "unreachable", "failed", "cancelled"
CAP_WINDOW = timedelta(days=7)
LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class Recipient:
    member_id: int
    telegram_id: int
    tier: str
    locale: str | None
    language_code: str | None
    timezone: str
    consent: bool | None
    blocked: bool
    birthday: date | None = None
    name: str = ""
    store_name: str = ""
    lost_due_at: datetime | None = None
    unanswered_offers: int = 0
    treatment_tier: str = ""
    """The tier automated campaigns treat them as (loyalty.offers.treatment_tiers); "" until
    a campaign has looked it up: their tier then."""

    @property
    def treated_as(self) -> str:
        return self.treatment_tier or self.tier


@dataclass(slots=True)
class PlanResult:
    queued: int = 0
    holdout: int = 0
    deferred: int = 0
    no_consent: int = 0
    capped: int = 0
    unreachable: int = 0
    already: int = 0
    coupons: int = 0

    def count_planned(self, *, holdout: bool, deferred: bool, coupon: bool) -> None:
        """One message planned: held out, deferred (quiet hours) or queued; with a coupon?"""
        self.coupons += coupon
        if holdout:
            self.holdout += 1
        elif deferred:
            self.deferred += 1
        else:
            self.queued += 1

    def add(self, other: PlanResult) -> None:
        for name in ("queued", "holdout", "deferred", "no_consent", "capped", "unreachable"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.already += other.already
        self.coupons += other.coupons

    def as_dict(self) -> dict[str, int]:
        return {
            "queued": self.queued,
            "holdout": self.holdout,
            "deferred": self.deferred,
            "no_consent": self.no_consent,
            "capped": self.capped,
            "unreachable": self.unreachable,
            "already": self.already,
            "coupons": self.coupons,
        }


async def ensure_campaign(
    session: AsyncSession,
    *,
    kind: str,
    period: str,
    holdout_share: float,
    now: datetime,
    name: str = "",
    created_by: int | None = None,
) -> Campaign:
    """The campaign of this kind and period, created on first use."""
    found = await session.scalar(
        select(Campaign).where(col(Campaign.kind) == kind, col(Campaign.period) == period)
    )
    if found is not None:
        return found
    campaign = Campaign(
        kind=kind,
        period=period,
        name=name or f"{kind} {period}",
        holdout_share=holdout_share,
        status="sending",
        created_at=now,
        created_by=created_by,
    )
    session.add(campaign)
    await session.flush()
    return campaign


async def recipients(session: AsyncSession, *, member_ids: Sequence[int]) -> list[Recipient]:
    """Who the members are for messaging, in one query (erased members are left out)."""
    if not member_ids:
        return []
    rows = await session.execute(
        select(
            col(Member.id),
            col(TelegramUser.telegram_id),
            col(Member.tier),
            col(TelegramUser.locale),
            col(TelegramUser.language_code),
            col(Store.timezone),
            col(Member.marketing_consent),
            col(TelegramUser.blocked_at),
            col(Member.birthday),
            col(Member.display_name),
            col(Store.name),
            col(Member.lost_due_at),
            col(Member.unanswered_offers),
        )
        .join(TelegramUser, col(TelegramUser.id) == col(Member.telegram_user_id))
        .join(Store, col(Store.id) == col(Member.store_id))
        .where(col(Member.id).in_(member_ids), col(Member.erased_at).is_(None))
        .order_by(col(Member.id))
    )
    return [
        Recipient(
            mid, tid, tier, loc, code, tz, consent, blocked is not None, day, name, store, lost, n
        )
        for mid, tid, tier, loc, code, tz, consent, blocked, day, name, store, lost, n in rows.all()
    ]


def in_holdout(campaign_id: int, member_id: int, share: float) -> bool:
    """Deterministic: the same member is in or out of a campaign's control group every time."""
    digest = hashlib.sha256(f"{campaign_id}:{member_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def next_send_time(now: datetime, *, quiet: QuietHours, timezone: str) -> datetime:
    """`now`, or the end of the quiet hours in the store's time zone if they are on."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    if not quiet.contains(local.time()):
        return now
    end = datetime.combine(local.date(), quiet.end, tzinfo=zone)
    if end <= local:
        end = datetime.combine(local.date() + timedelta(days=1), quiet.end, tzinfo=zone)
    return end.astimezone(now.tzinfo)


def consents(policy: Policy, consent: bool | None) -> bool:
    return consent is True or (policy.consent.mode == "opt-out" and consent is None)


async def _marketing_times(
    session: AsyncSession, *, member_ids: Sequence[int], since: datetime
) -> dict[int, list[datetime]]:
    """When each member's marketing messages are (or were) due, from `since` on."""
    rows = await session.execute(
        select(col(OutboxMessage.member_id), col(OutboxMessage.next_attempt_at)).where(
            col(OutboxMessage.member_id).in_(member_ids),
            col(OutboxMessage.marketing).is_(True),
            col(OutboxMessage.status).in_((PENDING, SENDING, SENT)),
            col(OutboxMessage.next_attempt_at) > since,
        )
    )
    times: dict[int, list[datetime]] = {}
    for member_id, at in rows.all():
        if member_id is not None:
            times.setdefault(int(member_id), []).append(at)
    return times


def celebrated_on(birthday: date, year: int) -> date:
    """The day a birthday is celebrated in `year` (29 February: 28 February in common years)."""
    try:
        return date(year, birthday.month, birthday.day)
    except ValueError:
        return date(year, 2, 28)


def birthday_soon(birthday: date | None, when: datetime, timezone: str) -> bool:
    """The member's birthday falls in the week after `when` (its greeting is not planned yet)."""
    if birthday is None:
        return False
    day = when.astimezone(ZoneInfo(timezone)).date()
    for year in (day.year, day.year + 1):
        if timedelta(days=1) <= celebrated_on(birthday, year) - day <= CAP_WINDOW:
            return True
    return False


def dedupe_key(kind: str, period: str, member_id: int) -> str:
    """What makes a planned message unique: one per campaign kind, period and member."""
    return f"{kind}:{period}:{member_id}"


async def told_periods(
    session: AsyncSession, *, kind: str, member_ids: Sequence[int]
) -> dict[int, list[str]]:
    """The periods of the messages of `kind` already planned for each member (whatever became
    of them: sent, held out, refused by Telegram)."""
    if not member_ids:
        return {}
    rows = await session.execute(
        select(col(OutboxMessage.member_id), col(OutboxMessage.dedupe_key)).where(
            col(OutboxMessage.member_id).in_(member_ids),
            col(OutboxMessage.dedupe_key).startswith(f"{kind}:", autoescape=True),
        )
    )
    told: dict[int, list[str]] = {}
    for member_id, key in rows.all():
        if member_id is not None:
            period = key[len(kind) + 1 : key.rindex(":")]
            told.setdefault(int(member_id), []).append(period)
    return told


Render = Callable[[Recipient, bool], Awaitable[tuple[str, int | None]]]
"""(recipient, in the holdout?) → (text, coupon id): renders the message in the member's
language, issuing their coupon when the campaign gives one (never to the holdout)."""


async def plan(
    session: AsyncSession,
    *,
    campaign: Campaign,
    audience: Sequence[Recipient],
    render: Render,
    policy: Policy,
    now: datetime,
    marketing: bool = True,
    respect_cap: bool = True,
    dedupe_period: str | None = None,
    periods: Mapping[int, str] | None = None,
    photo: str | None = None,
    dry_run: bool = False,
    buttons: Callable[[Recipient], str | None] | None = None,
) -> PlanResult:
    """Queue the campaign's message for every eligible member of `audience` (one batch).

    `dry_run`: count what would happen (a broadcast's preview) and write nothing. `photo`: a
    Telegram file id sent with every message (the text becomes its caption).
    `respect_cap=False` (birthdays): sent even at the cap, and still counted toward it, so the
    other campaigns of the week give way. `dedupe_period`: what makes a message unique besides
    the campaign's kind and the member ("once" for a once-in-a-lifetime nudge); the campaign's
    period by default. `periods`: that, member by member (a reminder of this coupon, of that
    tier), before `dedupe_period`. `buttons`: an inline keyboard (JSON) for a member, if any."""
    assert campaign.id is not None
    result = PlanResult()
    if not audience:
        return result
    period = dedupe_period or campaign.period
    own = periods or {}
    ids = [r.member_id for r in audience]
    keys = {dedupe_key(campaign.kind, own.get(m, period), m): m for m in ids}
    taken = await _taken(session, keys=list(keys))
    times = await _marketing_times(session, member_ids=ids, since=now - 2 * CAP_WINDOW)
    cap = policy.caps.max_marketing_per_week
    rows: list[dict[str, Any]] = []
    for person in audience:
        key = dedupe_key(campaign.kind, own.get(person.member_id, period), person.member_id)
        if key in taken:
            result.already += 1
            continue
        if person.blocked:
            result.unreachable += 1
            continue
        if marketing and not consents(policy, person.consent):
            result.no_consent += 1
            continue
        when = next_send_time(now, quiet=policy.caps.quiet_hours, timezone=person.timezone)
        if marketing and respect_cap and _at_cap(person, when, times=times, cap=cap):
            result.capped += 1
            continue
        holdout = in_holdout(campaign.id, person.member_id, campaign.holdout_share)
        if dry_run:
            text, coupon_id = "", None
        else:
            text, coupon_id = await render(person, holdout)
        result.count_planned(holdout=holdout, deferred=when > now, coupon=coupon_id is not None)
        if not holdout and marketing:
            times.setdefault(person.member_id, []).append(when)
        rows.append(
            {
                "campaign_id": campaign.id,
                "member_id": person.member_id,
                "telegram_id": person.telegram_id,
                "dedupe_key": key,
                "marketing": marketing,
                "text": text[: 1024 if photo else 4096],
                "photo": photo,
                "buttons": None if buttons is None or holdout else buttons(person),
                "coupon_id": coupon_id,
                "status": HOLDOUT if holdout else PENDING,
                "attempts": 0,
                "next_attempt_at": when,
                "created_at": now,
            }
        )
    if rows and not dry_run:
        await _insert_new(session, rows)
    return result


async def _taken(session: AsyncSession, *, keys: list[str]) -> set[str]:
    """The dedupe keys already in the outbox (queued by an earlier run or another process)."""
    found = await session.execute(
        select(col(OutboxMessage.dedupe_key)).where(col(OutboxMessage.dedupe_key).in_(keys))
    )
    return set(found.scalars().all())


def _at_cap(
    person: Recipient, when: datetime, *, times: dict[int, list[datetime]], cap: int
) -> bool:
    """Any 7 days around this message must hold fewer than the cap, with room kept for a
    birthday greeting due within the week (birthdays go out at the cap)."""
    near = sum(abs(t - when) < CAP_WINDOW for t in times.get(person.member_id, []))
    room = cap - (1 if birthday_soon(person.birthday, when, person.timezone) else 0)
    return near >= room


async def _insert_new(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert the rows; one whose dedupe key another process queued meanwhile is skipped."""
    dialect = session.bind.dialect.name
    insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(
        insert_(OutboxMessage).on_conflict_do_nothing(index_elements=["dedupe_key"]), rows
    )


async def enqueue_one(
    session: AsyncSession,
    *,
    telegram_id: int,
    text: str,
    dedupe: str,
    now: datetime,
    member_id: int | None = None,
    marketing: bool = False,
    buttons: str | None = None,
    at: datetime | None = None,
    about_member_id: int | None = None,
) -> bool:
    """A single message through the outbox (a transactional notice); False if already queued.
    `buttons`: an inline keyboard as JSON (see `keyboard_json`); `at`: not before then;
    `about_member_id`: the member a message to someone else quotes (their erasure blanks it)."""
    dialect = session.bind.dialect.name
    insert_ = pg_insert if dialect == "postgresql" else sqlite_insert
    done = await session.execute(
        insert_(OutboxMessage)
        .values(
            member_id=member_id,
            telegram_id=telegram_id,
            dedupe_key=dedupe,
            marketing=marketing,
            text=text[:4096],
            buttons=buttons,
            about_member_id=about_member_id,
            status=PENDING,
            attempts=0,
            next_attempt_at=at or now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def keyboard_json(rows: Sequence[Sequence[tuple[str, str]]]) -> str:
    """An inline keyboard of (label, callback data) buttons, as the outbox stores it."""
    return json.dumps(
        [[{"text": label, "callback_data": data} for label, data in row] for row in rows],
        ensure_ascii=False,
    )


# -- delivery ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    telegram_id: int
    text: str
    attempts: int
    photo: str | None = None
    buttons: str | None = None


async def claim(
    session: AsyncSession, *, now: datetime, limit: int, lease: timedelta = LEASE
) -> list[Claimed]:
    """Take up to `limit` rows that are due (or whose worker's lease ran out), oldest first.

    One statement takes them: the rows are chosen, leased and read back together (on PostgreSQL
    the choice skips rows another worker has locked). Three statements with the ids sent back
    and forth twice cost ~40 ms of the event loop per 2,000 rows, during which nothing was sent.
    Before it, a read asks whether anything is due at all: an idle worker asks twice a second,
    and on SQLite even an UPDATE that matches nothing takes the database's write lock."""
    due = or_(
        and_(col(OutboxMessage.status) == PENDING, col(OutboxMessage.next_attempt_at) <= now),
        and_(col(OutboxMessage.status) == SENDING, col(OutboxMessage.lease_until) <= now),
    )
    if await session.scalar(select(col(OutboxMessage.id)).where(due).limit(1)) is None:
        return []
    chosen = (
        select(col(OutboxMessage.id))
        .where(due)
        .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    rows = await session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id).in_(chosen))
        .values(status=SENDING, lease_until=now + lease)
        .returning(
            col(OutboxMessage.next_attempt_at),
            col(OutboxMessage.id),
            col(OutboxMessage.telegram_id),
            col(OutboxMessage.text),
            col(OutboxMessage.attempts),
            col(OutboxMessage.photo),
            col(OutboxMessage.buttons),
        )
        .execution_options(synchronize_session=False)
    )
    return [Claimed(*row[1:]) for row in sorted(rows.all(), key=lambda row: (row[0], row[1]))]


_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[attr-defined]  # Core: executemany by id
_MARK_SENT = (
    update(_OUTBOX)
    .where(_OUTBOX.c.id == bindparam("row_id"))
    .values(
        status=SENT,
        telegram_message_id=bindparam("message_id"),
        sent_at=bindparam("sent_at"),
        lease_until=None,
    )
)


async def mark_sent(
    session: AsyncSession, *, sent: Sequence[tuple[int, int]], now: datetime
) -> None:
    """(row id, Telegram message id) of each message Telegram accepted."""
    if sent:
        await session.execute(
            _MARK_SENT,
            [{"row_id": row, "message_id": msg, "sent_at": now} for row, msg in sent],
        )


async def mark_retry(
    session: AsyncSession, *, row: Claimed, at: datetime, error: str, counts: bool
) -> None:
    """Back to pending until `at`; `counts`: an error (network) rather than a flood wait."""
    attempts = row.attempts + (1 if counts else 0)
    status = FAILED if attempts >= MAX_ATTEMPTS else PENDING
    await session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == row.id)
        .values(
            status=status,
            attempts=attempts,
            next_attempt_at=at,
            error=error[:300],
            lease_until=None,
        )
        .execution_options(synchronize_session=False)
    )


async def mark_final(
    session: AsyncSession, *, row: Claimed, status: str, error: str, now: datetime
) -> None:
    """unreachable (the person blocked the bot: never retried) or failed (a 400)."""
    await session.execute(
        update(OutboxMessage)
        .where(col(OutboxMessage.id) == row.id)
        .values(status=status, error=error[:300], lease_until=None, attempts=row.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    if status == UNREACHABLE:
        await session.execute(
            update(TelegramUser)
            .where(col(TelegramUser.telegram_id) == row.telegram_id)
            .values(blocked_at=now)
            .execution_options(synchronize_session=False)
        )


async def counts_by_status(
    session: AsyncSession, *, campaign_id: int | None = None
) -> dict[str, int]:
    query = select(col(OutboxMessage.status), func.count()).group_by(col(OutboxMessage.status))
    if campaign_id is not None:
        query = query.where(col(OutboxMessage.campaign_id) == campaign_id)
    return {status: int(n) for status, n in (await session.execute(query)).all()}
