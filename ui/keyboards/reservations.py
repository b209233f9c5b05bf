"""Callback data and keyboards of reservations: the member's day, time and party pickers, the
managers' Confirm / Propose another time / Decline (sent through the outbox), the times a manager
may propose, and the member's answer to a proposal."""

from __future__ import annotations

from datetime import date, time
from typing import Literal

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from babel.dates import format_skeleton

from loyalty.outbox import keyboard_json
from ui.keyboards.fields import ClockTime, DayNumber, Flag, Id, Small
from ui.locales import babel_locale


class ReserveDay(CallbackData, prefix="rsd"):
    day: DayNumber


class ReserveTime(CallbackData, prefix="rst"):
    at: ClockTime


class ReserveParty(CallbackData, prefix="rsp"):
    party: Small
    """0: no note, send the request as it is (the "Send" button)."""


class ReserveDecide(CallbackData, prefix="rsm"):
    reservation_id: Id
    action: Literal["confirm", "decline", "propose"]


class ReservePropose(CallbackData, prefix="rsa"):
    reservation_id: Id
    at: ClockTime


class ReserveAnswer(CallbackData, prefix="rsr"):
    reservation_id: Id
    accept: Flag


class ReserveStart(CallbackData, prefix="rsv"):
    """ "Reserve a table" under a treatment's message (a birthday)."""

    via: Literal["birthday", "holiday"]


def day_number(day: date) -> int:
    return day.year * 10000 + day.month * 100 + day.day


def day_of(number: int) -> date:
    return date(number // 10000, number // 100 % 100, number % 100)


def clock_number(at: time) -> int:
    return at.hour * 100 + at.minute


def clock_of(number: int) -> time:
    return time(number // 100, number % 100)


def day_label(day: date, locale: str) -> str:
    """ "Sat, Dec 5" / "12月5日周六": the store's calendar in the member's language."""
    return str(format_skeleton("MMMEd", day, locale=babel_locale(locale)))


def _rows(buttons: list[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


def days_keyboard(days: list[date], locale: str) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(
            text=day_label(d, locale), callback_data=ReserveDay(day=day_number(d)).pack()
        )
        for d in days
    ]
    return InlineKeyboardMarkup(inline_keyboard=_rows(buttons, 3))


def times_keyboard(times: list[time]) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(
            text=t.isoformat(timespec="minutes"),
            callback_data=ReserveTime(at=clock_number(t)).pack(),
        )
        for t in times
    ]
    return InlineKeyboardMarkup(inline_keyboard=_rows(buttons, 4))


def party_keyboard(max_party: int) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(text=str(n), callback_data=ReserveParty(party=n).pack())
        for n in range(1, max_party + 1)
    ]
    return InlineKeyboardMarkup(inline_keyboard=_rows(buttons, 6))


def send_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("Send without a note"), callback_data=ReserveParty(party=0).pack()
                )
            ]
        ]
    )


def decide_keyboard_json(reservation_id: int) -> str:
    """The managers' buttons under a request, as the outbox stores a keyboard."""

    def button(label: str, action: Literal["confirm", "decline", "propose"]) -> tuple[str, str]:
        return label, ReserveDecide(reservation_id=reservation_id, action=action).pack()

    return keyboard_json(
        [
            [button(_("✓ Confirm"), "confirm"), button(_("✗ Decline"), "decline")],
            [button(_("Propose another time"), "propose")],
        ]
    )


def propose_keyboard(reservation_id: int, times: list[time]) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(
            text=t.isoformat(timespec="minutes"),
            callback_data=ReservePropose(reservation_id=reservation_id, at=clock_number(t)).pack(),
        )
        for t in times
    ]
    return InlineKeyboardMarkup(inline_keyboard=_rows(buttons, 4))


def answer_keyboard_json(reservation_id: int) -> str:
    yes = ReserveAnswer(reservation_id=reservation_id, accept=True).pack()
    no = ReserveAnswer(reservation_id=reservation_id, accept=False).pack()
    return keyboard_json([[(_("✓ That works"), yes), (_("✗ No, thanks"), no)]])


def reserve_row(occasion: str) -> list[tuple[str, str]]:
    """One row, "Reserve a table", under a treatment's message (a birthday, a holiday)."""
    via: Literal["birthday", "holiday"] = "holiday" if occasion == "holiday" else "birthday"
    return [(_("🍽 Reserve a table"), ReserveStart(via=via).pack())]
