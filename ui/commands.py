"""What Telegram shows before and around a chat: the bot's description ("What can this bot do?")
and short description, the command menu of each language and role, and the menu button.

Telegram keys descriptions and menus by two-letter language codes only
(``TELEGRAM_COMMAND_LANGUAGES``: the default is English, ``zh`` Simplified Chinese). People who
read Traditional Chinese therefore see the Simplified description (Telegram has no per-chat
description); their command menu is their own, set on their chat (``BotCommandScopeChat``) when
they first write or pick a language.
Staff get their role's commands the same way, on their chat, whenever their role changes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    MenuButtonCommands,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from loyalty.roles import RoleHolder
from models.tables import Role
from ui.locales import TELEGRAM_COMMAND_LANGUAGES, locale_from_language_code

log = logging.getLogger(__name__)

DESCRIPTION_LIMIT = 512
SHORT_DESCRIPTION_LIMIT = 120


def _diner_commands() -> list[BotCommand]:
    return [
        BotCommand(command="start", description=_("Welcome and check-in")),
        BotCommand(command="help", description=_("What I can do")),
        BotCommand(command="language", description=_("Change language")),
        BotCommand(command="card", description=_("My member card")),
        BotCommand(command="wallet", description=_("My coupons and points")),
        BotCommand(command="profile", description=_("Birthday, language and offers")),
        BotCommand(command="invite", description=_("Invite a friend")),
        BotCommand(command="reserve", description=_("Reserve a table")),
        BotCommand(command="suggest", description=_("Send us an idea")),
        BotCommand(command="stop", description=_("Stop offers")),
        BotCommand(command="mydata", description=_("Download my data")),
        BotCommand(command="forget", description=_("Erase my data")),
    ]


def _staff_commands(role: Role) -> list[BotCommand]:
    commands = []
    if role.at_least(Role.CASHIER):
        commands += [
            BotCommand(command="bill", description=_("Receipt QR for a walk-in diner")),
            BotCommand(command="redeem", description=_("Redeem a coupon by its code")),
        ]
    if role.at_least(Role.MANAGER):
        commands += [
            BotCommand(command="broadcast", description=_("Message a group of members")),
            BotCommand(command="newdish", description=_("Add a new dish and invite members")),
            BotCommand(command="care", description=_("Who needs a personal touch today")),
            BotCommand(command="reservations", description=_("Today's and upcoming tables")),
            BotCommand(command="stats", description=_("Figures by period, with charts")),
            BotCommand(command="campaigns", description=_("What each kind of campaign brought")),
            BotCommand(command="feedback", description=_("Ratings, complaints and suggestions")),
            BotCommand(command="gift", description=_("Give a member a coupon")),
            BotCommand(command="member", description=_("A member's grade and labels")),
            BotCommand(command="grade", description=_("Grade a member by hand")),
            BotCommand(command="tag", description=_("Label a member (neighbour, student…)")),
            BotCommand(command="refund", description=_("Refund a payment")),
            BotCommand(command="export", description=_("Your data and reports as CSV")),
            BotCommand(command="staff", description=_("Invite and remove staff")),
        ]
    if role is Role.OWNER:
        commands.append(BotCommand(command="audit", description=_("Who did what")))
    return commands


def command_menu(role: Role = Role.DINER) -> list[BotCommand]:
    """The commands of `role` in the current locale: the role's tools first (what staff open
    the menu for at work), then what every diner has."""
    return [*_staff_commands(role), *_diner_commands()]


def bot_description(store: str) -> str:
    """The "What can this bot do?" page of an empty chat (at most 512 characters)."""
    text = _(
        "The membership of {store}, right here in Telegram.\n\n"
        "Pay your bill with me or at the counter and you are a member: no form to fill in. "
        "Every visit counts toward your tier; points, coupons and birthday treats wait in "
        "your wallet.\n\n"
        "Scan the QR code on your table, or tap Start."
    ).format(store=store)
    return text[:DESCRIPTION_LIMIT]


def bot_short_description(store: str) -> str:
    """The line on the bot's profile and in shared links (at most 120 characters)."""
    text = _("{store} membership: pay here, become a member. Points, coupons, treats.").format(
        store=store
    )
    if len(text) <= SHORT_DESCRIPTION_LIMIT:
        return text
    return _("Pay here, become a member. Points, coupons, treats.")[:SHORT_DESCRIPTION_LIMIT]


def default_menu_locale(language_code: str | None) -> str:
    """The locale of the menu Telegram shows someone who has no menu of their own: the ``zh``
    menu (Simplified) for any Chinese language code, the default (English) menu otherwise."""
    return "zh_Hans" if (language_code or "").strip().lower()[:2] == "zh" else "en"


def needs_own_menu(role: Role, locale: str, language_code: str | None) -> bool:
    """Whether someone needs a menu on their chat: staff, and anyone whose language the
    per-language menus do not give them (Traditional Chinese, a language picked in /language)."""
    return role is not Role.DINER or locale != default_menu_locale(language_code)


async def register_profile(bot: Bot, i18n: I18n, *, store: str) -> None:
    """Descriptions, the diners' menu of each language and the menu button. Idempotent: a
    start-up sets the same values again."""
    for locale, language_code in TELEGRAM_COMMAND_LANGUAGES.items():
        with i18n.context(), i18n.use_locale(locale):
            await bot.set_my_description(
                description=bot_description(store), language_code=language_code
            )
            await bot.set_my_short_description(
                short_description=bot_short_description(store), language_code=language_code
            )
            await bot.set_my_commands(
                command_menu(), scope=BotCommandScopeDefault(), language_code=language_code
            )
    await bot.set_chat_menu_button(menu_button=MenuButtonCommands())


async def set_chat_menu(bot: Bot, i18n: I18n, holder: RoleHolder) -> bool:
    """Give one person the menu of their role in their language, on their own chat; someone the
    per-language menus serve gets their chat's menu removed (back to the diners' menu). False
    when Telegram refuses (they never opened the chat, or blocked the bot): nothing to fix
    then, the next change or start-up sets it."""
    locale = holder.locale or locale_from_language_code(holder.language_code, i18n.default_locale)
    scope = BotCommandScopeChat(chat_id=holder.telegram_id)
    try:
        if needs_own_menu(holder.role, locale, holder.language_code):
            with i18n.context(), i18n.use_locale(locale):
                commands = command_menu(holder.role)
            await bot.set_my_commands(commands, scope=scope)
        else:
            await bot.delete_my_commands(scope=scope)
    except (TelegramBadRequest, TelegramForbiddenError) as exc:
        log.info("command menu of %s not set: %s", holder.telegram_id, exc.message)
        return False
    return True


async def set_chat_menus(bot: Bot, i18n: I18n, holders: Sequence[RoleHolder]) -> int:
    """`set_chat_menu` for each; how many Telegram took."""
    done = 0
    for holder in holders:
        done += await set_chat_menu(bot, i18n, holder)
    return done
