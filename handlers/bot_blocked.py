"""The person blocked or unblocked the bot (Telegram's `my_chat_member`)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import KICKED, MEMBER, ChatMemberUpdatedFilter
from aiogram.types import ChatMemberUpdated
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty import telegram_users
from loyalty.clock import Clock


async def blocked(event: ChatMemberUpdated, session: AsyncSession, clock: Clock) -> None:
    await telegram_users.mark_blocked(
        session, telegram_id=event.from_user.id, blocked=True, now=clock.now()
    )


async def unblocked(event: ChatMemberUpdated, session: AsyncSession, clock: Clock) -> None:
    await telegram_users.mark_blocked(
        session, telegram_id=event.from_user.id, blocked=False, now=clock.now()
    )


def build_router() -> Router:
    router = Router(name="bot_blocked")
    router.my_chat_member.register(blocked, ChatMemberUpdatedFilter(member_status_changed=KICKED))
    router.my_chat_member.register(unblocked, ChatMemberUpdatedFilter(member_status_changed=MEMBER))
    return router
