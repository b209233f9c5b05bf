"""A member's data beyond their own rows: the copies erasure must reach, and the history /mydata
must show (issue 19). `loyalty.members.erase` and `export_data` call in here.

Where a member's personal data can be copied, and what erasure does with each copy:

- messages *to* them (the outbox, `telegram_id`/`member_id`): blanked by `members.erase`;
- messages to *someone else* that quote them — a low rating or a complaint forwarded to the
  owner and managers (`OutboxMessage.about_member_id`): the text, buttons and photo are blanked,
  and one not sent yet is cancelled;
- what they wrote (complaints, suggestions, survey answers: `Feedback.text`): blanked by
  `members.erase` (the star rating stays, anonymous);
- the audit log's details: their Telegram id is replaced by "[erased]" wherever a detail names
  it (a staff line about someone who was also a diner), and a staff role they no longer hold
  (its row keeps their id and name) is deleted; a role they still hold stays until they are
  removed from the staff;
- their offers-consent history (`ConsentEvent`): deleted;
- their reservations (`Reservation.note`): the notes are blanked and the ones still open
  (requested, proposed, confirmed) cancelled;
- export files: `/export` sends its CSV files in the chat and writes none to disk, so there is
  no file to delete.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loyalty.money import plain_amount
from models.tables import (
    AuditLog,
    Campaign,
    ConsentEvent,
    Coupon,
    OutboxMessage,
    Payment,
    Reservation,
    Staff,
    TierChange,
)

ERASED = "[erased]"
_UNSENT = ("pending", "sending")
_OPEN_TABLES = ("requested", "proposed", "confirmed")


async def record_consent(
    session: AsyncSession, *, member_id: int, allowed: bool, via: str, now: datetime
) -> None:
    """Remember that the member said yes or no to offers (and how): /mydata lists them."""
    session.add(ConsentEvent(member_id=member_id, allowed=allowed, via=via, at=now))


async def forget_copies(session: AsyncSession, *, member_id: int | None, telegram_id: int) -> int:
    """Blank what other rows copied of this person (see the module docstring); how many rows
    changed."""
    changed = 0
    if member_id is not None:
        quoted = await session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.about_member_id) == member_id)
            .values(
                text="",
                buttons=None,
                photo=None,
                status=case(
                    (col(OutboxMessage.status).in_(_UNSENT), "cancelled"),
                    else_=col(OutboxMessage.status),
                ),
            )
            .execution_options(synchronize_session=False)
        )
        changed += int(quoted.rowcount)  # type: ignore[attr-defined]
        consents = await session.execute(
            delete(ConsentEvent)
            .where(col(ConsentEvent.member_id) == member_id)
            .execution_options(synchronize_session=False)
        )
        changed += int(consents.rowcount)  # type: ignore[attr-defined]
        tables = await session.execute(
            update(Reservation)
            .where(col(Reservation.member_id) == member_id)
            .values(
                note="",
                status=case(
                    (col(Reservation.status).in_(_OPEN_TABLES), "cancelled"),
                    else_=col(Reservation.status),
                ),
            )
            .execution_options(synchronize_session=False)
        )
        changed += int(tables.rowcount)  # type: ignore[attr-defined]
    changed += await _scrub_audit(session, telegram_id=telegram_id)
    former = await session.execute(
        delete(Staff)
        .where(col(Staff.telegram_id) == telegram_id, col(Staff.revoked_at).is_not(None))
        .execution_options(synchronize_session=False)
    )
    changed += int(former.rowcount)  # type: ignore[attr-defined]
    return changed


async def _scrub_audit(session: AsyncSession, *, telegram_id: int) -> int:
    """The Telegram id, as a whole number, in audit details."""
    number = str(telegram_id)
    whole = re.compile(rf"(?<![0-9]){number}(?![0-9])")
    rows = (
        await session.execute(select(AuditLog).where(col(AuditLog.detail).contains(number)))
    ).scalars()
    changed = 0
    for row in rows:
        scrubbed = whole.sub(ERASED, row.detail)
        if scrubbed != row.detail:
            row.detail = scrubbed
            changed += 1
    return changed


# -- /mydata -------------------------------------------------------------------------------------


async def history(
    session: AsyncSession, *, member_id: int, telegram_id: int, currency: str
) -> dict[str, Any]:
    """The parts of a member's data that are not on their own row: coupons (issued and
    redeemed, with the bill), tier changes, offers consent given and withdrawn, friends they
    brought, the messages sent to them through the outbox, and the tables they reserved."""
    return {
        "coupons": await _coupons(session, member_id=member_id),
        "tier_history": await _tiers(session, member_id=member_id),
        "consents": await _consents(session, member_id=member_id),
        "referrals": await _referrals(session, member_id=member_id, currency=currency),
        "messages": await _messages(session, member_id=member_id, telegram_id=telegram_id),
        "reservations": await _reservations(session, member_id=member_id),
    }


async def _reservations(session: AsyncSession, *, member_id: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Reservation)
        .where(col(Reservation.member_id) == member_id)
        .order_by(col(Reservation.created_at))
    )
    return [
        {
            "at": _iso(r.at),
            "party": r.party,
            "note": r.note,
            "status": r.status,
            "asked_at": _iso(r.created_at),
        }
        for r in rows.scalars()
    ]


async def _coupons(session: AsyncSession, *, member_id: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(Coupon).where(col(Coupon.member_id) == member_id).order_by(col(Coupon.issued_at))
    )
    return [
        {
            "code": coupon.code,
            "template": coupon.template,
            "kind": coupon.kind,
            "value": _money(coupon.value, coupon.currency),
            "min_spend": _money(coupon.min_spend, coupon.currency),
            "cap": _money(coupon.cap, coupon.currency),
            "currency": coupon.currency,
            "dish": coupon.dish_name,
            "why": coupon.campaign,
            "issued_at": _iso(coupon.issued_at),
            "valid_until": _iso(coupon.valid_until),
            "status": coupon.status,
            "redeemed_at": _iso(coupon.redeemed_at),
            "bill_amount": _money(coupon.bill_amount, coupon.currency),
            "discount": _money(coupon.discount, coupon.currency),
            "payment_id": coupon.payment_id,
        }
        for coupon in rows.scalars()
    ]


async def _tiers(session: AsyncSession, *, member_id: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(TierChange)
        .where(col(TierChange.member_id) == member_id)
        .order_by(col(TierChange.at), col(TierChange.id))
    )
    return [
        {
            "at": _iso(change.at),
            "from": change.from_tier,
            "to": change.to_tier,
            "direction": change.direction,
            "because": change.reason,
        }
        for change in rows.scalars()
    ]


async def _consents(session: AsyncSession, *, member_id: int) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(ConsentEvent)
        .where(col(ConsentEvent.member_id) == member_id)
        .order_by(col(ConsentEvent.at), col(ConsentEvent.id))
    )
    return [
        {
            "at": _iso(event.at),
            "offers": "given" if event.allowed else "withdrawn",
            "via": event.via,
        }
        for event in rows.scalars()
    ]


async def _referrals(
    session: AsyncSession, *, member_id: int, currency: str
) -> list[dict[str, Any]]:
    """Friends who joined through their link: when, and the points it brought (the friend's
    own data is theirs, not listed)."""
    rows = await session.execute(
        select(col(Payment.created_at), col(Payment.referral_points), col(Payment.status))
        .where(col(Payment.referrer_member_id) == member_id)
        .order_by(col(Payment.created_at))
    )
    return [
        {"friend_joined_at": _iso(at), "points": points, "payment_status": status}
        for at, points, status in rows.tuples()
    ]


async def _messages(
    session: AsyncSession, *, member_id: int, telegram_id: int
) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(OutboxMessage, col(Campaign.kind))
        .outerjoin(Campaign, col(Campaign.id) == col(OutboxMessage.campaign_id))
        .where(
            or_(
                col(OutboxMessage.member_id) == member_id,
                col(OutboxMessage.telegram_id) == telegram_id,
            )
        )
        .order_by(col(OutboxMessage.created_at), col(OutboxMessage.id))
    )
    return [
        {
            "created_at": _iso(message.created_at),
            "sent_at": _iso(message.sent_at),
            "status": message.status,
            "about": kind or message.dedupe_key.split(":", 1)[0],
            "marketing": message.marketing,
            "text": message.text,
        }
        for message, kind in rows.tuples()
    ]


def _money(value: Decimal | None, currency: str) -> str | None:
    return plain_amount(value, currency) if value is not None else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
