"""The member's own panels: /profile, the birthday picker, the offers question, /forget."""

from __future__ import annotations

from typing import Literal

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from babel.dates import get_month_names

from loyalty import member_account
from loyalty.policy import Policy
from ui.keyboards.console import tags_keyboard
from ui.keyboards.fields import DayOrZero, Flag, Month
from ui.locales import babel_locale


class ProfileAction(CallbackData, prefix="prof"):
    """A button of the /profile panel: birthday, language, offers_on, offers_off, forget_birthday,
    back."""

    action: Literal[
        "birthday", "language", "taste", "offers_on", "offers_off", "forget_birthday", "back"
    ]


class BirthdayPick(CallbackData, prefix="bday"):
    """The date picker: a month (day 0: show that month's days), then a day."""

    month: Month
    day: DayOrZero = 0


class ConsentChoice(CallbackData, prefix="consent"):
    """The answer to the enrolment question (offers yes / no)."""

    allowed: Flag


class ForgetChoice(CallbackData, prefix="forget"):
    confirm: Flag


def profile_keyboard(profile: member_account.Profile) -> InlineKeyboardMarkup:
    birthday = _("🎂 Change birthday") if profile.birthday else _("🎂 Add birthday")
    if profile.marketing:
        offers = InlineKeyboardButton(
            text=_("🔕 Turn offers off"),
            callback_data=ProfileAction(action="offers_off").pack(),
        )
    else:
        offers = InlineKeyboardButton(
            text=_("🔔 Turn offers on"), callback_data=ProfileAction(action="offers_on").pack()
        )
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=birthday, callback_data=ProfileAction(action="birthday").pack()
                )
            ],
            [
                InlineKeyboardButton(
                    text=_("🌐 Language"), callback_data=ProfileAction(action="language").pack()
                )
            ],
            [
                InlineKeyboardButton(
                    text=_("🍜 My taste"), callback_data=ProfileAction(action="taste").pack()
                )
            ],
            [offers],
        ]
    )


def month_keyboard(locale: str, *, has_birthday: bool) -> InlineKeyboardMarkup:
    names = get_month_names("abbreviated", context="stand-alone", locale=babel_locale(locale))
    months = [
        InlineKeyboardButton(text=str(names[month]), callback_data=BirthdayPick(month=month).pack())
        for month in range(1, 13)
    ]
    rows = [months[i : i + 3] for i in range(0, 12, 3)]
    last = [
        InlineKeyboardButton(text=_("« Back"), callback_data=ProfileAction(action="back").pack())
    ]
    if has_birthday:
        last.append(
            InlineKeyboardButton(
                text=_("Remove my birthday"),
                callback_data=ProfileAction(action="forget_birthday").pack(),
            )
        )
    rows.append(last)
    return InlineKeyboardMarkup(inline_keyboard=rows)


def day_keyboard(month: int) -> InlineKeyboardMarkup:
    days = [
        InlineKeyboardButton(text=str(day), callback_data=BirthdayPick(month=month, day=day).pack())
        for day in range(1, member_account.days_in_month(month) + 1)
    ]
    rows = [days[i : i + 7] for i in range(0, len(days), 7)]
    rows.append(
        [
            InlineKeyboardButton(
                text=_("« Months"), callback_data=ProfileAction(action="birthday").pack()
            )
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def taste_keyboard(
    profile: member_account.Profile, policy: Policy, locale: str
) -> InlineKeyboardMarkup:
    return tags_keyboard("me", profile.taste, policy, locale, done=_("« Back"))


def consent_keyboard(*, opt_out: bool) -> InlineKeyboardMarkup:
    """Opt-in: yes / no; opt-out: offers are on, one button turns them off."""
    if opt_out:
        buttons = [
            InlineKeyboardButton(
                text=_("Turn offers off"), callback_data=ConsentChoice(allowed=False).pack()
            )
        ]
    else:
        buttons = [
            InlineKeyboardButton(
                text=_("Yes, send me offers"), callback_data=ConsentChoice(allowed=True).pack()
            ),
            InlineKeyboardButton(
                text=_("No thanks"), callback_data=ConsentChoice(allowed=False).pack()
            ),
        ]
    return InlineKeyboardMarkup(inline_keyboard=[buttons])


def forget_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("Yes, erase my data"), callback_data=ForgetChoice(confirm=True).pack()
                ),
                InlineKeyboardButton(
                    text=_("Cancel"), callback_data=ForgetChoice(confirm=False).pack()
                ),
            ]
        ]
    )
