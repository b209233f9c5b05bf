"""/language: English, 简体中文, 繁體中文. The choice also re-labels the person's command menu."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty import telegram_users
from loyalty.clock import Clock
from loyalty.roles import RoleHolder
from models.tables import Role
from ui.commands import set_chat_menu
from ui.keyboards.start import LanguageChoice, Menu, language_keyboard
from ui.locales import LANGUAGE_NAMES, SUPPORTED_LOCALES
from ui.texts import language_prompt


async def ask_language(message: Message, locale: str) -> None:
    await message.answer(language_prompt(), reply_markup=language_keyboard(locale))


async def ask_language_from_menu(query: CallbackQuery, locale: str) -> None:
    await query.answer()
    if query.message is not None:
        await query.message.answer(language_prompt(), reply_markup=language_keyboard(locale))


async def choose_language(
    query: CallbackQuery,
    callback_data: LanguageChoice,
    session: AsyncSession,
    clock: Clock,
    i18n: I18n,
    bot: Bot,
    role: Role,
) -> None:
    person = await telegram_users.choose_locale(
        session,
        telegram_id=query.from_user.id,
        locale=callback_data.locale,
        supported=SUPPORTED_LOCALES,
        now=clock.now(),
    )
    locale = person.locale or callback_data.locale
    i18n.current_locale = locale
    done = _("Language set: {language}.").format(language=LANGUAGE_NAMES[locale])
    await query.answer(done)
    message = query.message
    if message is not None and not isinstance(message, InaccessibleMessage):
        hint = _("Send /help to see what I can do.")
        await message.edit_text(f"{done}\n\n{hint}")
    holder = RoleHolder(query.from_user.id, role, locale, person.language_code)
    await set_chat_menu(bot, i18n, holder)  # their role's menu, in the language they picked


def build_router() -> Router:
    router = Router(name="language")
    router.message.register(ask_language, Command("language"))
    router.callback_query.register(ask_language_from_menu, Menu.filter(F.item == "language"))
    router.callback_query.register(choose_language, LanguageChoice.filter())
    return router
