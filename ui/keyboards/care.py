"""Callback data and keyboards of the care desk: an entry's Write to them / Ask why / Done /
Later (on the daily list, sent through the outbox, and on `/care`), and the one-tap reasons of
the survey "why don't we see you more?" (sent to the member through the outbox)."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from loyalty.care import SURVEY_REASONS
from loyalty.outbox import keyboard_json

WRITE, ASK, DONE, LATER = "w", "a", "d", "l"


class CareAct(CallbackData, prefix="care"):
    entry_id: int
    action: str
    """w: write to them, a: ask why, d: done, l: later."""
    n: int = 0
    """The entry's number on the list it was pressed on."""


class WhyAnswer(CallbackData, prefix="why"):
    survey_id: int
    reason: str


def _entry_rows(entry_id: int, n: int) -> list[list[tuple[str, str]]]:
    def data(action: str) -> str:
        return CareAct(entry_id=entry_id, action=action, n=n).pack()

    return [
        [
            (_("{n} · ✍ Write to them").format(n=n), data(WRITE)),
            (_("{n} · ❓ Ask why").format(n=n), data(ASK)),
        ],
        [
            (_("{n} · ✓ Done").format(n=n), data(DONE)),
            (_("{n} · ⏰ Later").format(n=n), data(LATER)),
        ],
    ]


def list_rows(entries: Sequence[tuple[int, int]]) -> list[list[tuple[str, str]]]:
    """Two rows of buttons per (entry id, number) of a list message."""
    return [row for entry_id, n in entries for row in _entry_rows(entry_id, n)]


def list_keyboard(entries: Sequence[tuple[int, int]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(text=label, callback_data=data) for label, data in row]
            for row in list_rows(entries)
        ]
    )


def list_keyboard_json(entries: Sequence[tuple[int, int]]) -> str:
    """The same buttons as the outbox stores them (the daily list)."""
    return keyboard_json(list_rows(entries))


def without_entry(
    markup: InlineKeyboardMarkup | None, entry_id: int
) -> InlineKeyboardMarkup | None:
    """A list's keyboard once an entry is handled: its buttons gone (None when none are left)."""
    if markup is None:
        return None
    rows = []
    for row in markup.inline_keyboard:
        kept = [b for b in row if not _is_entry(b.callback_data, entry_id)]
        if kept:
            rows.append(kept)
    return InlineKeyboardMarkup(inline_keyboard=rows) if rows else None


def _is_entry(data: str | None, entry_id: int) -> bool:
    if not data or not data.startswith(f"{CareAct.__prefix__}:"):
        return False
    return CareAct.unpack(data).entry_id == entry_id


def reason_name(reason: str) -> str:
    """A survey reason in the current language; an unknown key as it is."""
    names = {
        "moved": _("I moved away"),
        "price": _("The price"),
        "taste": _("The taste"),
        "service": _("The service"),
        "waiting": _("The waiting"),
        "busy": _("Just busy"),
        "other": _("Something else…"),
    }
    return names.get(reason, reason)


def survey_keyboard_json(survey_id: int) -> str:
    """The reasons, two a row, as the outbox stores a keyboard."""
    buttons = [
        (reason_name(r), WhyAnswer(survey_id=survey_id, reason=r).pack()) for r in SURVEY_REASONS
    ]
    return keyboard_json([buttons[i : i + 2] for i in range(0, len(buttons), 2)])
