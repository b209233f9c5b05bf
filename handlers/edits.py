"""Answering a button by editing the message it sits on."""

from __future__ import annotations

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup

from ui.texts import not_a_member_text


async def edit_message(
    query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None
) -> None:
    """Edit the message the button sits on (no error when nothing changes)."""
    message = query.message
    if message is None or isinstance(message, InaccessibleMessage):
        return
    try:
        await message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as exc:
        if "not modified" not in str(exc):
            raise


async def not_a_member(query: CallbackQuery) -> None:
    """The button belongs to members only: say how to become one (pay here once)."""
    await query.answer()
    await edit_message(query, not_a_member_text())
