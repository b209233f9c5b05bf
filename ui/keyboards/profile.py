"""The member's own panels: /profile, the birthday picker, the offers question, /forget."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class ProfileAction(CallbackData, prefix="prof"):
    """A button of the /profile panel: birthday, language, offers_on, offers_off, forget_birthday,
    back."""

    action: str


class BirthdayPick(CallbackData, prefix="bday"):
    """The date picker: a month (day 0: show that month's days), then a day."""

    month: int
    day: int = 0


class ConsentChoice(CallbackData, prefix="consent"):
    """The answer to the enrolment question (offers yes / no)."""

    allowed: bool


class ForgetChoice(CallbackData, prefix="forget"):
    confirm: bool
