"""A member's own account as they see it: card, profile (birthday, taste, marketing consent),
export and erasure. (Who writes to the bot at all, member or not: :mod:`loyalty.telegram_users`.)

Plain values in and out, no aiogram. Every function is keyed by the person's Telegram id and
returns None when that person is not a member (the bot then says "pay first"); erased members
are unlinked from their Telegram id, so after /forget the same person is a stranger.

Minimal data (DESIGN §1, principle 7): we keep the first name Telegram gave us, visits, payments,
points and, only if the member chooses, a birthday — never a phone number. A birthday is a month
and a day: we never ask the year, and store it in the date column with the year
:data:`BIRTHDAY_YEAR` (2000, a leap year, so 29 February fits).

Marketing consent is a tri-state on the member: None until they answer, then True or False.
Until they answer, the policy's mode decides (``opt-in``: no offers; ``opt-out``: offers).
Transactional messages (receipts, redemptions) never depend on it.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import case, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loyalty import grades, privacy, tiers
from loyalty.audiences import tags_column_value, tags_of
from loyalty.errors import DomainError
from loyalty.money import currency_precision
from loyalty.policy import Policy
from models import queries
from models.tables import Feedback, Member, OutboxMessage

BIRTHDAY_YEAR: Final = 2000
"""The year stored with every birthday. We only ask month and day; 2000 is a leap year, so
29 February is a valid birthday."""

EXPORT_FORMAT: Final = "regulars-my-data/1"


class InvalidBirthday(DomainError):
    """Not a day of the year (e.g. 31 April)."""

    def __init__(self, month: int, day: int) -> None:
        super().__init__(f"no such day: month {month}, day {day}")
        self.month = month
        self.day = day


# -- values -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Profile:
    member_id: int
    display_name: str
    birthday: date | None
    """Month and day only (the year is always BIRTHDAY_YEAR)."""
    marketing: bool
    """Whether marketing may be sent now (the member's answer, else the policy's default)."""
    consent_given: bool | None
    """The member's own answer; None while they have not answered."""
    consent_at: datetime | None
    taste: tuple[str, ...] = ()
    """The policy's taste tags the member picked."""


@dataclass(frozen=True, slots=True)
class Card:
    member_id: int
    display_name: str
    tier: str
    """The tier key (the policy names it per locale)."""
    points_balance: int
    visit_count: int
    total_spend: Decimal
    progress: tiers.TierStatus


@dataclass(frozen=True, slots=True)
class ConsentAnswer:
    marketing: bool
    """What applies now."""
    changed: bool
    """False when the member had answered before (a second tap changes nothing)."""


@dataclass(frozen=True, slots=True)
class Erasure:
    member_id: int | None
    """The member whose personal data was erased; None for a person who never paid."""
    check_ins_deleted: int
    bills_deleted: int
    fraud_events_unlinked: int


# -- reading ------------------------------------------------------------------------------


async def find_member(session: AsyncSession, *, telegram_id: int) -> Member | None:
    """The person's membership, if they have one (erased members are unlinked: None)."""
    member = await queries.get_member_by_telegram_id(session, telegram_id=telegram_id)
    if member is None or member.erased_at is not None:
        return None
    return member


def marketing_allowed(member: Member, policy: Policy) -> bool:
    """The member's answer, else the policy's default for people who have not answered."""
    if member.marketing_consent is not None:
        return member.marketing_consent
    return policy.consent.mode == "opt-out"


async def get_profile(session: AsyncSession, *, telegram_id: int, policy: Policy) -> Profile | None:
    member = await find_member(session, telegram_id=telegram_id)
    return None if member is None else _profile(member, policy)


async def get_card(
    session: AsyncSession, *, telegram_id: int, policy: Policy, now: datetime
) -> Card | None:
    """What /card shows: tier, progress to the next one, points and visits."""
    member = await find_member(session, telegram_id=telegram_id)
    if member is None:
        return None
    assert member.id is not None
    progress = await tier_status(session, member=member, policy=policy, now=now)
    return Card(
        member_id=member.id,
        display_name=member.display_name,
        tier=progress.tier,
        points_balance=member.points_balance,
        visit_count=member.visit_count,
        total_spend=member.total_spend,
        progress=progress,
    )


async def tier_status(
    session: AsyncSession, *, member: Member, policy: Policy, now: datetime
) -> tiers.TierStatus:
    """The member's tier and what the next one takes, from their standing visits, referrals and
    adopted suggestions; a manager's grade in force is the tier, with no climb to show."""
    assert member.id is not None
    history = await queries.visit_history(session, member_id=member.id)
    status = await tiers.status_of(session, member=member, policy=policy, now=now, history=history)
    if not grades.in_force(member, now=now):
        return status
    return replace(
        status,
        tier=member.tier,
        next_tier=None,
        visits_needed=0,
        spend_needed=Decimal(0),
        referrals_needed=0,
        suggestions_needed=0,
        deadline=None,
        any_of=False,
    )


# -- profile changes ----------------------------------------------------------------------


def birthday_of(month: int, day: int) -> date:
    """The stored form of a birthday; :class:`InvalidBirthday` for a day that does not exist."""
    if not 1 <= month <= 12 or not 1 <= day <= days_in_month(month):
        raise InvalidBirthday(month, day)
    return date(BIRTHDAY_YEAR, month, day)


def days_in_month(month: int) -> int:
    """Days a birthday month can have (February: 29)."""
    return calendar.monthrange(BIRTHDAY_YEAR, month)[1]


async def set_birthday(
    session: AsyncSession, *, telegram_id: int, month: int, day: int, policy: Policy
) -> Profile | None:
    birthday = birthday_of(month, day)
    member = await find_member(session, telegram_id=telegram_id)
    if member is None:
        return None
    member.birthday = birthday
    return _profile(member, policy)


async def toggle_taste(
    session: AsyncSession, *, telegram_id: int, tag: str, policy: Policy
) -> Profile | None:
    """Add the tag to the member's taste, or take it away (tags the policy no longer has are
    dropped)."""
    member = await find_member(session, telegram_id=telegram_id)
    if member is None:
        return None
    chosen = {t for t in tags_of(member.taste_tags) if t in policy.taste_tags}
    if tag in policy.taste_tags:
        chosen ^= {tag}
    member.taste_tags = tags_column_value(sorted(chosen))
    return _profile(member, policy)


async def clear_birthday(
    session: AsyncSession, *, telegram_id: int, policy: Policy
) -> Profile | None:
    member = await find_member(session, telegram_id=telegram_id)
    if member is None:
        return None
    member.birthday = None
    return _profile(member, policy)


async def set_marketing(
    session: AsyncSession,
    *,
    telegram_id: int,
    allowed: bool,
    policy: Policy,
    now: datetime,
    via: str = "profile",
) -> Profile | None:
    """The member turns offers on or off (/profile, /stop: `via`). Setting the same value again
    keeps the time of the original answer."""
    member = await find_member(session, telegram_id=telegram_id)
    if member is None:
        return None
    if member.marketing_consent is not allowed:
        member.marketing_consent = allowed
        member.consent_at = now
        assert member.id is not None
        await privacy.record_consent(
            session, member_id=member.id, allowed=allowed, via=via, now=now
        )
    return _profile(member, policy)


async def answer_enrolment_consent(
    session: AsyncSession, *, telegram_id: int, allowed: bool, policy: Policy, now: datetime
) -> ConsentAnswer | None:
    """The answer to the question asked once at enrolment. Only the first answer counts: a
    double tap or an old button changes nothing (later changes go through /profile or /stop)."""
    member = await find_member(session, telegram_id=telegram_id)
    if member is None:
        return None
    if member.marketing_consent is not None:
        return ConsentAnswer(marketing=member.marketing_consent, changed=False)
    member.marketing_consent = allowed
    member.consent_at = now
    assert member.id is not None
    await privacy.record_consent(
        session, member_id=member.id, allowed=allowed, via="enrolment", now=now
    )
    return ConsentAnswer(marketing=allowed, changed=True)


# -- export -------------------------------------------------------------------------------


async def export_data(
    session: AsyncSession, *, telegram_id: int, policy: Policy, locale: str, now: datetime
) -> dict[str, Any]:
    """Everything we hold about this person, as a JSON-ready document.

    Amounts are strings (exact decimals), timestamps ISO 8601 in UTC. A person who never paid
    gets what little we hold: their language and when we first and last saw them.
    """
    user = await queries.get_user(session, telegram_id=telegram_id)
    member = await find_member(session, telegram_id=telegram_id)
    document: dict[str, Any] = {
        "format": EXPORT_FORMAT,
        "exported_at": _iso(now),
        "telegram": None,
        "member": None,
    }
    if user is not None:
        document["telegram"] = {
            "telegram_id": user.telegram_id,
            "language_code": user.language_code,
            "chosen_language": user.locale,
            "first_seen_at": _iso(user.first_seen_at),
            "last_seen_at": _iso(user.last_seen_at),
            "blocked_bot_at": _iso(user.blocked_at),
            "referred_by_member_id": user.referred_by_member_id,
        }
    document["check_ins"] = [
        {"at": _iso(check_in.at), "store_id": check_in.store_id, "table": number}
        for check_in, number in await queries.check_ins_of(session, telegram_id=telegram_id)
    ]
    document["bills"] = [
        {
            "amount": _amount(bill.amount, bill.currency),
            "currency": bill.currency,
            "status": bill.status,
            "created_at": _iso(bill.created_at),
        }
        for bill in await queries.bills_of(session, telegram_id=telegram_id)
    ]
    if member is None:
        return document
    document["member"] = await _exported_member(
        session, member, policy=policy, locale=locale, now=now
    )
    document |= await _exported_history(session, member)
    assert member.id is not None
    document |= await privacy.history(  # coupons, tiers, consents, referrals, messages
        session,
        member_id=member.id,
        telegram_id=telegram_id,
        currency=document["member"]["currency"],
    )
    return document


async def _exported_member(
    session: AsyncSession, member: Member, *, policy: Policy, locale: str, now: datetime
) -> dict[str, Any]:
    """The member's profile, choices, tier and totals."""
    assert member.id is not None
    status = await tier_status(session, member=member, policy=policy, now=now)
    store = await queries.get_store(session, store_id=member.store_id)
    currency = store.currency if store is not None else ""
    return {
        "member_id": member.id,
        "store_id": member.store_id,
        "display_name": member.display_name,
        "birthday": _month_day(member.birthday),
        "marketing": {
            "consent": member.marketing_consent,
            "answered_at": _iso(member.consent_at),
            "offers_sent": marketing_allowed(member, policy),
            "policy_default": policy.consent.mode,
        },
        "acquisition_channel": member.acquisition_channel,
        "referred_by_member_id": member.referrer_member_id,
        "enrolled_at": _iso(member.enrolled_at),
        "tier": {"key": status.tier, "name": policy.tiers.display_name(status.tier, locale)},
        "visit_count": member.visit_count,
        "total_spend": _amount(member.total_spend, currency),
        "currency": currency,
        "first_visit_at": _iso(member.first_visit_at),
        "last_visit_at": _iso(member.last_visit_at),
        "points_balance": member.points_balance,
        "taste": list(tags_of(member.taste_tags)),
    }


async def _exported_history(session: AsyncSession, member: Member) -> dict[str, Any]:
    """The member's feedback, points, visits and payments, oldest first."""
    assert member.id is not None
    document: dict[str, Any] = {}
    document["feedback"] = [
        {
            "at": _iso(item.created_at),
            "kind": item.kind,
            "rating": item.rating,
            "text": item.text,
            "visit_id": item.visit_id,
        }
        for item in (
            await session.execute(
                select(Feedback)
                .where(col(Feedback.member_id) == member.id)
                .order_by(col(Feedback.created_at))
            )
        )
        .scalars()
        .all()
    ]
    document["points"] = [
        {
            "at": _iso(entry.at),
            "points": entry.delta,
            "reason": entry.reason,
            "payment_id": entry.payment_id,
        }
        for entry in await queries.member_points_entries(session, member_id=member.id)
    ]
    document["visits"] = [
        {
            "at": _iso(visit.at),
            "store_id": visit.store_id,
            "table": number,
            "payment_id": visit.payment_id,
            "voided_at": _iso(visit.voided_at),
        }
        for visit, number in await queries.member_visits(session, member_id=member.id)
    ]
    document["payments"] = [
        {
            "payment_id": payment.id,
            "source": payment.source,
            "amount": _amount(payment.amount, payment.currency),
            "currency": payment.currency,
            "status": payment.status,
            "points_awarded": payment.points_awarded,
            "created_at": _iso(payment.created_at),
            "credited_at": _iso(payment.credited_at),
            "refunded_at": _iso(payment.refunded_at),
        }
        for payment in await queries.member_payments(session, member_id=member.id)
    ]
    return document


# -- erasure ------------------------------------------------------------------------------


async def erase(session: AsyncSession, *, telegram_id: int, now: datetime) -> Erasure:
    """Forget this person (an erasure request). Idempotent.

    Personal data goes: the member's name, birthday and consent; the link between the member
    and the Telegram account (then the Telegram user row itself); the person's check-ins and
    bills; their Telegram id on fraud events. The member's payments, visits and points stay,
    anonymous, for the restaurant's accounts; the member row stays as their anonymous owner,
    marked ``erased_at``. A later payment by the same person enrols a new member.

    The audit log gets one row without personal data (the anonymous member id only).
    """
    member = await find_member(session, telegram_id=telegram_id)
    member_id: int | None = None
    if member is not None:
        member_id = member.id
        member.display_name = ""
        member.birthday = None
        member.marketing_consent = None
        member.consent_at = None
        member.erased_at = now
        member.telegram_user_id = None
        member.taste_tags = ""
        await session.flush()
        await session.execute(  # ratings stay (anonymous); what they wrote goes
            update(Feedback)
            .where(col(Feedback.member_id) == member_id)
            .values(text="")
            .execution_options(synchronize_session=False)
        )
    await session.execute(  # messages to them: unsent ones are dropped, texts (names) go
        update(OutboxMessage)
        .where(col(OutboxMessage.telegram_id) == telegram_id)
        .values(
            text="",
            telegram_id=0,
            status=case(
                (col(OutboxMessage.status).in_(("pending", "sending")), "cancelled"),
                else_=col(OutboxMessage.status),
            ),
        )
        .execution_options(synchronize_session=False)
    )
    # copies elsewhere: messages to staff quoting them, consent history, audit details
    await privacy.forget_copies(session, member_id=member_id, telegram_id=telegram_id)
    check_ins = await queries.delete_check_ins_of(session, telegram_id=telegram_id)
    bills = await queries.delete_bills_of(session, telegram_id=telegram_id)
    frauds = await queries.unlink_fraud_events(session, telegram_id=telegram_id)
    user = await queries.get_user(session, telegram_id=telegram_id)
    if user is not None:
        await session.delete(user)
    await queries.add_audit(
        session,
        actor_telegram_id=None,
        action="member.erase" if member_id is not None else "person.erase",
        detail=f"member={member_id}" if member_id is not None else "not a member",
        now=now,
    )
    await session.flush()
    return Erasure(
        member_id=member_id,
        check_ins_deleted=check_ins,
        bills_deleted=bills,
        fraud_events_unlinked=frauds,
    )


# -- helpers ------------------------------------------------------------------------------


def _profile(member: Member, policy: Policy) -> Profile:
    assert member.id is not None
    return Profile(
        member_id=member.id,
        display_name=member.display_name,
        birthday=member.birthday,
        marketing=marketing_allowed(member, policy),
        consent_given=member.marketing_consent,
        consent_at=member.consent_at,
        taste=tags_of(member.taste_tags),
    )


def _amount(value: Decimal, currency: str) -> str:
    """An exact amount as text, with the currency's own decimals ("86.50" CNY, "1200" JPY)."""
    try:
        places = currency_precision(currency)
    except ValueError:
        return str(value)
    return str(value.quantize(Decimal(1).scaleb(-places)))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _month_day(value: date | None) -> dict[str, int] | None:
    return {"month": value.month, "day": value.day} if value is not None else None
