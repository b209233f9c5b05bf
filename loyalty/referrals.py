"""Referral links: a friend who opens a member's link and later pays is credited to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from models import queries
from models.tables import Member


@dataclass(frozen=True, slots=True)
class ReferralNote:
    referrer_name: str
    already_member: bool
    own_link: bool


async def remember_referrer(
    session: AsyncSession, *, telegram_id: int, referrer_member_id: int, now: datetime
) -> ReferralNote | None:
    """Note who referred this person (first link wins; members and self-referrals don't count).
    None when the referrer is unknown or erased."""
    referrer = await session.get(Member, referrer_member_id)
    if referrer is None or referrer.erased_at is not None:
        return None
    user = await queries.get_user(session, telegram_id=telegram_id)
    if user is None:
        user = await queries.add_user(session, telegram_id=telegram_id, language_code=None, now=now)
    own = referrer.telegram_user_id == user.id
    member = await queries.get_member_by_telegram_id(session, telegram_id=telegram_id)
    if not own and member is None and user.referred_by_member_id is None:
        user.referred_by_member_id = referrer_member_id
    return ReferralNote(
        referrer_name=referrer.display_name, already_member=member is not None, own_link=own
    )


async def referrer_of(session: AsyncSession, *, telegram_id: int) -> int | None:
    user = await queries.get_user(session, telegram_id=telegram_id)
    return user.referred_by_member_id if user is not None else None
