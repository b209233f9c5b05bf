"""The Telegram users who talk to the bot, member or not: seen, language chosen, bot blocked.

One row per Telegram account (:class:`models.tables.TelegramUser`); the member's own card and
profile are in :mod:`loyalty.member_account`. No aiogram here: plain values in and out."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty.errors import UnsupportedLocale
from models import queries
from models.tables import Role, TelegramUser

LAST_SEEN_RESOLUTION = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class Person:
    telegram_id: int
    locale: str | None
    language_code: str | None
    is_new: bool
    staff_role: Role = Role.DINER
    """The best role the staff table gives them (owners come from the configuration: see
    :func:`loyalty.roles.role_for`)."""


async def touch(
    session: AsyncSession, *, telegram_id: int, language_code: str | None, now: datetime
) -> Person:
    """Note that this person is here now; create the row the first time. Their staff role
    comes with it (same statement), for the role of every update."""
    user, staff_role = await queries.get_user_and_staff_role(session, telegram_id=telegram_id)
    is_new = user is None
    if user is None:
        user = await queries.add_user(
            session, telegram_id=telegram_id, language_code=language_code, now=now
        )
    else:
        # Coarse on purpose: a write per update only to move a timestamp by seconds would make
        # every button press a write transaction.
        if now - user.last_seen_at >= LAST_SEEN_RESOLUTION:
            user.last_seen_at = now
        if language_code and user.language_code != language_code:
            user.language_code = language_code
        if user.blocked_at is not None:
            user.blocked_at = None
    return _person(user, is_new=is_new, staff_role=staff_role)


async def choose_locale(
    session: AsyncSession,
    *,
    telegram_id: int,
    locale: str,
    supported: Collection[str],
    now: datetime,
) -> Person:
    if locale not in supported:
        raise UnsupportedLocale(locale)
    user, staff_role = await queries.get_user_and_staff_role(session, telegram_id=telegram_id)
    if user is None:
        user = await queries.add_user(session, telegram_id=telegram_id, language_code=None, now=now)
    user.locale = locale
    user.last_seen_at = now
    return _person(user, is_new=False, staff_role=staff_role)


async def mark_blocked(
    session: AsyncSession, *, telegram_id: int, blocked: bool, now: datetime
) -> None:
    """The person blocked (or unblocked) the bot: stop sending until they are back."""
    user = await queries.get_user(session, telegram_id=telegram_id)
    if user is None:
        return
    user.blocked_at = now if blocked else None


def _person(user: TelegramUser, *, is_new: bool, staff_role: Role) -> Person:
    return Person(
        telegram_id=user.telegram_id,
        locale=user.locale,
        language_code=user.language_code,
        is_new=is_new,
        staff_role=staff_role,
    )


async def locale_of(session: AsyncSession, *, telegram_id: int) -> tuple[str | None, str | None]:
    """(chosen locale, Telegram language code) of someone, to write to them outside their update."""
    user = await queries.get_user(session, telegram_id=telegram_id)
    if user is None:
        return None, None
    return user.locale, user.language_code
