"""Last router: anything no other router took gets a polite pointer to /help."""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _


async def not_understood(message: Message) -> None:
    await message.answer(_("Sorry, I didn't understand that. Send /help to see what I can do."))


async def stale_button(query: CallbackQuery) -> None:
    await query.answer(_("This button is no longer active."), show_alert=False)


def build_router() -> Router:
    router = Router(name="fallback")
    router.message.register(not_understood)
    router.callback_query.register(stale_button)
    return router
