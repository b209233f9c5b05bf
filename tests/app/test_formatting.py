"""Money, dates and points as each of our locales prints them (the strings Babel produces)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from ui.formatting import format_date, format_money, format_points


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "text"),
    [
        ("86.50", "CNY", "zh_Hans", "¥86.50"),
        ("86.50", "CNY", "en", "CN¥86.50"),
        ("86.50", "CNY", "zh_Hant", "CN¥86.50"),
        ("86.5", "CNY", "zh_Hans", "¥86.50"),
        ("1234.5", "USD", "en", "$1,234.50"),
        ("1234.5", "USD", "zh_Hans", "US$1,234.50"),
        ("1234.5", "USD", "zh_Hant", "US$1,234.50"),
        ("1500", "JPY", "en", "¥1,500"),
        ("1500", "JPY", "zh_Hans", "JP¥1,500"),
        ("1500", "JPY", "zh_Hant", "¥1,500"),
        ("350", "TWD", "en", "NT$350.00"),
        ("350", "TWD", "zh_Hans", "NT$350.00"),
        ("350", "TWD", "zh_Hant", "$350.00"),
        ("88.5", "HKD", "zh_Hant", "HK$88.50"),
        ("35000", "KRW", "en", "₩35,000"),
        ("12.5", "EUR", "zh_Hans", "€12.50"),
        ("1.234", "KWD", "en", "KWD1.234"),
        ("86.50", "cny", "zh_Hans", "¥86.50"),
    ],
)
def test_format_money(amount: str, currency: str, locale: str, text: str) -> None:
    assert format_money(Decimal(amount), currency, locale) == text


def test_unknown_locales_fall_back_to_english() -> None:
    assert format_money(Decimal("86.50"), "CNY", "fr") == "CN¥86.50"
    assert format_date(date(2026, 12, 31), "fr") == "December 31, 2026"


@pytest.mark.parametrize(
    ("locale", "fmt", "text"),
    [
        ("en", "long", "December 31, 2026"),
        ("en", "medium", "Dec 31, 2026"),
        ("zh_Hans", "long", "2026年12月31日"),
        ("zh_Hans", "medium", "2026年12月31日"),
        ("zh_Hant", "long", "2026年12月31日"),
        ("zh_Hant", "medium", "2026年12月31日"),
    ],
)
def test_format_date(locale: str, fmt: str, text: str) -> None:
    assert format_date(date(2026, 12, 31), locale, fmt) == text  # type: ignore[arg-type]


def test_format_date_defaults_to_long() -> None:
    assert format_date(date(2026, 1, 5), "en") == "January 5, 2026"
    assert format_date(date(2026, 1, 5), "zh_Hans") == "2026年1月5日"
    moment = datetime(2026, 1, 5, 23, 30, tzinfo=UTC)
    assert format_date(moment, "zh_Hant", "medium") == "2026年1月5日"


@pytest.mark.parametrize(
    ("n", "locale", "text"),
    [
        (0, "en", "0"),
        (86, "zh_Hans", "86"),
        (1234567, "en", "1,234,567"),
        (1234567, "zh_Hans", "1,234,567"),
        (1234567, "zh_Hant", "1,234,567"),
        (-50, "en", "-50"),
    ],
)
def test_format_points(n: int, locale: str, text: str) -> None:
    assert format_points(n, locale) == text
