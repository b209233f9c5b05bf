"""The period picker under `/stats` and `/campaigns`: this week, the last 4 weeks, this month,
the last 3 months, or a custom range (typed as two dates)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from loyalty import periods

STATS, CAMPAIGNS = "s", "c"


class PeriodPick(CallbackData, prefix="per"):
    report: str
    """s: /stats, c: /campaigns."""
    key: str
    """A loyalty.periods choice, or "custom"."""


def choice_name(key: str) -> str:
    names = {
        periods.WEEK: _("This week"),
        periods.FOUR_WEEKS: _("Last 4 weeks"),
        periods.MONTH: _("This month"),
        periods.THREE_MONTHS: _("Last 3 months"),
        periods.CUSTOM: _("Custom range…"),
    }
    return names.get(key, key)


def picker(report: str, *, current: str) -> InlineKeyboardMarkup:
    """Two choices a row, the custom range last; the one shown is marked."""

    def button(key: str) -> InlineKeyboardButton:
        label = choice_name(key)
        if key == current and key != periods.CUSTOM:
            label = f"• {label}"
        return InlineKeyboardButton(
            text=label, callback_data=PeriodPick(report=report, key=key).pack()
        )

    keys = periods.CHOICES
    rows = [[button(k) for k in keys[i : i + 2]] for i in range(0, len(keys), 2)]
    rows.append([button(periods.CUSTOM)])
    return InlineKeyboardMarkup(inline_keyboard=rows)
