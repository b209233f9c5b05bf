"""Amounts people type, and minor units for Telegram invoices."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty.errors import DomainError
from loyalty.money import (
    AmountReason,
    InvalidAmount,
    currency_precision,
    from_minor_units,
    is_known_currency,
    parse_amount,
    to_minor_units,
)

MAX = Decimal(10000)


def cny(text: str, maximum: Decimal = MAX) -> Decimal:
    return parse_amount(text, currency="CNY", maximum=maximum)


def reason(text: str, currency: str = "CNY", maximum: Decimal = MAX) -> AmountReason:
    with pytest.raises(InvalidAmount) as caught:
        parse_amount(text, currency=currency, maximum=maximum)
    return caught.value.reason


@pytest.mark.parametrize(
    ("code", "places"),
    [
        ("CNY", 2),
        ("HKD", 2),
        ("TWD", 2),
        ("JPY", 0),
        ("KRW", 0),
        ("USD", 2),
        ("EUR", 2),
        ("SGD", 2),
        ("MYR", 2),
        ("THB", 2),
        ("VND", 0),
        ("KWD", 3),
        ("cny", 2),
    ],
)
def test_currency_precision(code: str, places: int) -> None:
    assert currency_precision(code) == places


def test_unknown_currency() -> None:
    assert is_known_currency("CNY")
    assert not is_known_currency("XYZ")
    with pytest.raises(ValueError, match="ISO 4217"):
        currency_precision("XYZ")
    with pytest.raises(ValueError, match="ISO 4217"):
        parse_amount("1", currency="XYZ", maximum=MAX)


@pytest.mark.parametrize(
    ("text", "amount"),
    [
        ("86.50", "86.50"),
        ("86,50", "86.50"),
        ("86", "86.00"),
        (" 86.5 ", "86.50"),
        ("86.", "86.00"),
        (".5", "0.50"),
        ("0.01", "0.01"),
        ("+86", "86.00"),
        ("０８６", "86.00"),
        ("８６．５０", "86.50"),  # full-width digits and point (Chinese keyboards)
        ("８６，５", "86.50"),
        ("86。5", "86.50"),  # a Chinese IME's full stop
        ("\u300086.50\u3000", "86.50"),  # ideographic spaces
        ("¥86.50", "86.50"),
        ("￥86.50", "86.50"),
        ("¥ 86.50", "86.50"),
        ("CN¥86.50", "86.50"),
        ("86.50元", "86.50"),
        ("86块", "86.00"),
        ("86 CNY", "86.00"),
        ("cny 86", "86.00"),
        ("RMB86", "86.00"),
        ("10000", "10000.00"),  # the maximum itself is allowed
    ],
)
def test_accepted(text: str, amount: str) -> None:
    result = cny(text)
    assert result == Decimal(amount)
    assert str(result) == amount  # quantized to the currency's precision


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", AmountReason.EMPTY),
        ("   ", AmountReason.EMPTY),
        ("¥", AmountReason.EMPTY),
        ("0", AmountReason.NOT_POSITIVE),
        ("0.00", AmountReason.NOT_POSITIVE),
        ("-5", AmountReason.NOT_POSITIVE),
        ("-¥5", AmountReason.NOT_POSITIVE),
        ("¥-5", AmountReason.NOT_POSITIVE),
        ("－5", AmountReason.NOT_POSITIVE),  # full-width minus
        ("−5", AmountReason.NOT_POSITIVE),  # U+2212 minus sign
        ("86.505", AmountReason.TOO_PRECISE),
        ("86.500", AmountReason.TOO_PRECISE),  # could be a European 86500
        ("1,234", AmountReason.TOO_PRECISE),  # one mark is the decimal mark: 1.234
        ("10000.01", AmountReason.TOO_LARGE),
        ("86500", AmountReason.TOO_LARGE),
        ("1,234.50", AmountReason.NOT_A_NUMBER),  # thousands separators are refused
        ("1.234,50", AmountReason.NOT_A_NUMBER),
        ("1.234.567", AmountReason.NOT_A_NUMBER),
        ("1 234", AmountReason.NOT_A_NUMBER),
        ("1e3", AmountReason.NOT_A_NUMBER),
        ("1E3", AmountReason.NOT_A_NUMBER),
        ("NaN", AmountReason.NOT_A_NUMBER),
        ("Infinity", AmountReason.NOT_A_NUMBER),
        ("inf", AmountReason.NOT_A_NUMBER),
        ("0x10", AmountReason.NOT_A_NUMBER),
        ("1_000", AmountReason.NOT_A_NUMBER),
        ("eighty", AmountReason.NOT_A_NUMBER),
        ("86 yuan please", AmountReason.NOT_A_NUMBER),
        (".", AmountReason.NOT_A_NUMBER),
        ("--5", AmountReason.NOT_A_NUMBER),
        ("$86", AmountReason.NOT_A_NUMBER),  # another currency's sign
        ("86 USD", AmountReason.NOT_A_NUMBER),
        ("¥¥86", AmountReason.NOT_A_NUMBER),
        ("٨٦", AmountReason.NOT_A_NUMBER),  # Arabic-Indic digits are not ours to guess
        ("1" * 65, AmountReason.NOT_A_NUMBER),
    ],
)
def test_refused(text: str, why: AmountReason) -> None:
    assert reason(text) is why


def test_precision_follows_the_currency() -> None:
    assert parse_amount("1500", currency="JPY", maximum=Decimal(500000)) == Decimal(1500)
    assert str(parse_amount("¥1500", currency="JPY", maximum=Decimal(500000))) == "1500"
    assert reason("1.5", currency="JPY") is AmountReason.TOO_PRECISE
    assert reason("1500.0", currency="JPY", maximum=Decimal(500000)) is AmountReason.TOO_PRECISE
    assert reason("1,500", currency="JPY", maximum=Decimal(500000)) is AmountReason.TOO_PRECISE
    assert str(parse_amount("1.234", currency="KWD", maximum=MAX)) == "1.234"
    assert str(parse_amount("NT$350", currency="TWD", maximum=MAX)) == "350.00"
    assert str(parse_amount("HK$88.5", currency="HKD", maximum=MAX)) == "88.50"
    assert str(parse_amount("$12.5", currency="USD", maximum=MAX)) == "12.50"
    assert reason("¥12.5", currency="USD") is AmountReason.NOT_A_NUMBER


def test_the_error_carries_what_the_message_needs() -> None:
    with pytest.raises(InvalidAmount) as caught:
        parse_amount("20000", currency="cny", maximum=MAX)
    error = caught.value
    assert isinstance(error, DomainError)
    assert error.reason is AmountReason.TOO_LARGE
    assert error.currency == "CNY"
    assert error.precision == 2
    assert error.maximum == MAX


@pytest.mark.parametrize(
    ("amount", "code", "units"),
    [
        ("86.50", "CNY", 8650),
        ("86.5", "CNY", 8650),
        ("0.01", "USD", 1),
        ("1500", "JPY", 1500),
        ("35000", "KRW", 35000),
        ("1.234", "KWD", 1234),
        ("50000", "VND", 50000),
        ("25000", "IDR", 2500000),
        ("12000", "HUF", 1200000),
        ("350", "TWD", 35000),
        ("5000", "ISK", 5000),
    ],
)
def test_minor_units_round_trip(amount: str, code: str, units: int) -> None:
    """Telegram's units (its currencies.json `exp`), whatever CLDR's places for typing are:
    the rupiah, forint and Taiwan dollar in hundredths, the króna whole."""
    assert to_minor_units(Decimal(amount), code) == units
    back = from_minor_units(units, code)
    assert back == Decimal(amount)
    assert back.as_tuple().exponent == -currency_precision(code)


def test_from_minor_units_keeps_the_places() -> None:
    assert str(from_minor_units(8650, "CNY")) == "86.50"
    assert str(from_minor_units(0, "CNY")) == "0.00"
    assert str(from_minor_units(1500, "JPY")) == "1500"


def test_minor_units_refuse_finer_amounts() -> None:
    with pytest.raises(ValueError, match="decimal places"):
        to_minor_units(Decimal("86.505"), "CNY")
    with pytest.raises(ValueError, match="decimal places"):
        to_minor_units(Decimal("1.5"), "JPY")
    with pytest.raises(ValueError, match="not an amount"):
        to_minor_units(Decimal("NaN"), "CNY")
