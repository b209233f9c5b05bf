"""The command menu, in each language, registered with setMyCommands."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from ui.locales import TELEGRAM_COMMAND_LANGUAGES


def command_menu() -> list[BotCommand]:
    """The commands every person can use, in the current locale."""
    return [
        BotCommand(command="start", description=_("Welcome and check-in")),
        BotCommand(command="help", description=_("What I can do")),
        BotCommand(command="language", description=_("Change language")),
        BotCommand(command="card", description=_("My member card")),
        BotCommand(command="wallet", description=_("My coupons and points")),
        BotCommand(command="profile", description=_("Birthday, language and offers")),
        BotCommand(command="invite", description=_("Invite a friend")),
        BotCommand(command="suggest", description=_("Send us an idea")),
        BotCommand(command="stop", description=_("Stop offers")),
        BotCommand(command="mydata", description=_("Download my data")),
        BotCommand(command="forget", description=_("Erase my data")),
    ]


async def register_commands(bot: Bot, i18n: I18n) -> None:
    """Default menu in English, `zh` in Simplified Chinese (Telegram takes two-letter codes)."""
    for locale, language_code in TELEGRAM_COMMAND_LANGUAGES.items():
        with i18n.context(), i18n.use_locale(locale):
            await bot.set_my_commands(
                command_menu(), scope=BotCommandScopeDefault(), language_code=language_code
            )


async def register_chat_commands(bot: Bot, *, chat_id: int) -> None:
    """After someone picks a language: their own menu in that language (current locale)."""
    await bot.set_my_commands(command_menu(), scope=BotCommandScopeChat(chat_id=chat_id))
