"""Money, dates and points as people read them, in each of our locales (Babel).

The Babel locale behind each of ours comes from :func:`ui.locales.babel_locale`
(en → en, zh_Hans → zh_Hans_CN, zh_Hant → zh_Hant_TW).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from babel.dates import format_date as babel_format_date
from babel.dates import format_time as babel_format_time
from babel.numbers import format_currency, format_decimal

from ui.locales import babel_locale

DateFormat = Literal["long", "medium"]


def format_money(amount: Decimal, currency: str, locale: str) -> str:
    """86.50 CNY: "CN¥86.50" (en), "¥86.50" (zh_Hans), "CN¥86.50" (zh_Hant).

    Babel prints the currency's own number of decimals (JPY none, CNY two).
    """
    return format_currency(amount, currency.upper(), locale=babel_locale(locale))


def format_date(d: date, locale: str, fmt: DateFormat = "long") -> str:
    """A calendar day: "December 31, 2026" (en, long), "2026年12月31日" (zh, long and medium).

    Pass the day in the store's time zone (a datetime's own date is used as it is).
    """
    return babel_format_date(d, format=fmt, locale=babel_locale(locale))


def format_points(n: int, locale: str) -> str:
    """A points balance as a grouped number ("12,345"); the words around it come from gettext."""
    return format_decimal(n, locale=babel_locale(locale))


def format_local_time(at: datetime, timezone: str, locale: str) -> str:
    """A moment as the store's wall clock shows it, short: "3:07 PM" (en), "15:07" (zh)."""
    return babel_format_time(
        at.astimezone(ZoneInfo(timezone)), format="short", locale=babel_locale(locale)
    )


def format_local_datetime(at: datetime, timezone: str, locale: str) -> str:
    """A moment on the store's wall clock with its day: "Nov 24, 2026 10:00 AM" (en),
    "2026年11月24日 10:00" (zh_Hans)."""
    local = at.astimezone(ZoneInfo(timezone))
    day = babel_format_date(local.date(), format="medium", locale=babel_locale(locale))
    return f"{day} {babel_format_time(local, format='short', locale=babel_locale(locale))}"
