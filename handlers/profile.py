"""The member's /profile: birthday, language, taste and offers, each a button on one panel.

Non-members are told how to become one (pay here once); nothing is written for them.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from babel.dates import get_month_names
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.edits import edit_message, not_a_member
from loyalty import member_account
from loyalty.clock import Clock
from loyalty.policy import Policy
from ui.keyboards.console import TagPick
from ui.keyboards.profile import (
    BirthdayPick,
    ProfileAction,
    day_keyboard,
    month_keyboard,
    profile_keyboard,
    taste_keyboard,
)
from ui.keyboards.start import language_keyboard
from ui.locales import babel_locale
from ui.profile import birthday_text, profile_text, taste_prompt
from ui.texts import not_a_member_text


async def show_profile(
    message: Message, session: AsyncSession, policy: Policy, locale: str
) -> None:
    assert message.from_user is not None
    profile = await member_account.get_profile(
        session, telegram_id=message.from_user.id, policy=policy
    )
    if profile is None:
        await message.answer(not_a_member_text())
        return
    await message.answer(
        profile_text(profile, policy, locale), reply_markup=profile_keyboard(profile)
    )


async def profile_action(
    query: CallbackQuery,
    callback_data: ProfileAction,
    session: AsyncSession,
    clock: Clock,
    policy: Policy,
    locale: str,
) -> None:
    telegram_id = query.from_user.id
    action = callback_data.action
    if action == "language":
        await query.answer()
        await edit_message(query, _("Choose your language:"), language_keyboard(locale))
        return
    if action in ("offers_on", "offers_off"):
        profile = await member_account.set_marketing(
            session,
            telegram_id=telegram_id,
            allowed=action == "offers_on",
            policy=policy,
            now=clock.now(),
        )
        notice = (
            _("Offers are on.")
            if profile is not None and profile.marketing
            else _("Offers are off.")
        )
    elif action == "forget_birthday":
        profile = await member_account.clear_birthday(
            session, telegram_id=telegram_id, policy=policy
        )
        notice = _("Birthday removed.")
    else:
        profile = await member_account.get_profile(session, telegram_id=telegram_id, policy=policy)
        notice = ""
    if profile is None:
        await not_a_member(query)
        return
    if action == "taste":
        await query.answer()
        await edit_message(query, taste_prompt(), taste_keyboard(profile, policy, locale))
        return
    if action == "birthday":
        await query.answer()
        await edit_message(
            query,
            _("Your birthday: which month?"),
            month_keyboard(locale, has_birthday=profile.birthday is not None),
        )
        return
    await query.answer(notice)
    await edit_message(query, profile_text(profile, policy, locale), profile_keyboard(profile))


async def pick_taste(
    query: CallbackQuery,
    callback_data: TagPick,
    session: AsyncSession,
    policy: Policy,
    locale: str,
) -> None:
    """A member's own taste (TagPick scope "me"); the empty value goes back to the profile."""
    telegram_id = query.from_user.id
    if callback_data.value:
        profile = await member_account.toggle_taste(
            session, telegram_id=telegram_id, tag=callback_data.value, policy=policy
        )
    else:
        profile = await member_account.get_profile(session, telegram_id=telegram_id, policy=policy)
    if profile is None:
        await not_a_member(query)
        return
    await query.answer()
    if callback_data.value:
        await edit_message(query, taste_prompt(), taste_keyboard(profile, policy, locale))
    else:
        await edit_message(query, profile_text(profile, policy, locale), profile_keyboard(profile))


async def pick_birthday(
    query: CallbackQuery,
    callback_data: BirthdayPick,
    session: AsyncSession,
    policy: Policy,
    locale: str,
) -> None:
    month, day = callback_data.month, callback_data.day
    if not 1 <= month <= 12:
        await query.answer(_("This button is no longer active."))
        return
    if day == 0:
        profile = await member_account.get_profile(
            session, telegram_id=query.from_user.id, policy=policy
        )
        if profile is None:
            await not_a_member(query)
            return
        await query.answer()
        month_name = get_month_names("wide", context="stand-alone", locale=babel_locale(locale))
        await edit_message(
            query,
            _("Your birthday: which day of {month}?").format(month=month_name[month]),
            day_keyboard(month),
        )
        return
    try:
        profile = await member_account.set_birthday(
            session, telegram_id=query.from_user.id, month=month, day=day, policy=policy
        )
    except member_account.InvalidBirthday:
        await query.answer(_("This button is no longer active."))
        return
    if profile is None:
        await not_a_member(query)
        return
    await query.answer(
        _("Birthday saved: {birthday}").format(birthday=birthday_text(profile.birthday, locale))
    )
    await edit_message(query, profile_text(profile, policy, locale), profile_keyboard(profile))


def build_router() -> Router:
    router = Router(name="profile")
    router.message.register(show_profile, Command("profile"))
    router.callback_query.register(profile_action, ProfileAction.filter())
    router.callback_query.register(pick_birthday, BirthdayPick.filter())
    router.callback_query.register(pick_taste, TagPick.filter(F.scope == "me"))
    return router
