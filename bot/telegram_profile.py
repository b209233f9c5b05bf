"""At start-up, in every mode: how the bot presents itself in Telegram (descriptions, the menus
of each language, the menu button) and the menu on each staff member's chat."""

from __future__ import annotations

from aiogram import Bot

from bot.services import Services
from loyalty import roles
from ui.commands import register_profile, set_chat_menus


async def present_bot(bot: Bot, services: Services) -> int:
    """Set everything again (idempotent); returns how many staff menus Telegram took."""
    await register_profile(bot, services.i18n, store=services.store.name)
    async with services.session_factory() as session:
        holders = await roles.role_holders(session, owner_ids=services.settings.owner_ids)
    return await set_chat_menus(bot, services.i18n, holders)
