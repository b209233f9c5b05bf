"""Money: amounts people type, and amounts in a currency's smallest units (Telegram invoices).

Money is always :class:`~decimal.Decimal`, never float. A currency's precision (decimal places)
comes from Babel (CLDR): CNY 2, JPY 0, KWD 3.

What :func:`parse_amount` accepts — the amount of ONE currency, the store's:

* digits with at most one decimal mark, ``.`` or ``,``: ``86.50``, ``86,50``, ``86``, ``.5``;
  surrounding spaces are ignored;
* full-width characters from Chinese and Japanese keyboards (``８６．５０``, ``８６，５``) and the
  ideographic full stop a Chinese IME types for ``.`` (``86。5``);
* one currency sign or code before or after the number, of THAT currency only: for CNY ``¥86``,
  ``￥86``, ``CN¥86``, ``86元``, ``86 CNY``, ``RMB 86``; ``$86`` is refused for a CNY store (a
  different currency is a mistake worth a question, not a guess).

What it refuses, with the reason the bot turns into a message in the person's language:

* ``EMPTY``: nothing typed (or only a currency sign);
* ``NOT_A_NUMBER``: anything else than the above — letters, ``1e3``, ``NaN``, ``Infinity``, spaces
  inside the number, and **any thousands separator**: ``1,234.50`` and ``1.234,50`` (two marks),
  ``1 234``. One mark is always the decimal mark, so ``1,234`` reads as 1.234 and is refused as
  ``TOO_PRECISE`` in CNY rather than guessed to be 1234: a misread bill is worse than a retry;
* ``NOT_POSITIVE``: zero or negative;
* ``TOO_PRECISE``: more decimal places typed than the currency has, even zeros: ``86.505`` and
  ``86.500`` in CNY, ``1.5`` and ``1.0`` in JPY (``1.500`` could be a European 1500);
* ``TOO_LARGE``: above the maximum bill.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Final

from babel import Locale
from babel.numbers import get_currency_precision, get_currency_symbol, list_currencies

from loyalty.errors import DomainError

# Longer text is not an amount; refusing it early keeps Decimal away from megabyte numbers.
MAX_AMOUNT_TEXT: Final = 64

_NUMBER: Final = re.compile(
    r"(?P<whole>[0-9]+)(?:[.,](?P<frac>[0-9]*))?|[.,](?P<only_frac>[0-9]+)", re.ASCII
)
# Babel locales whose currency symbols people in our markets type.
_SYMBOL_LOCALES: Final = ("en", "zh_Hans_CN", "zh_Hant_TW", "zh_Hant_HK", "zh_Hans_SG", "ja", "ko")
# Everyday signs and words CLDR does not list as symbols (NFKC already maps ￥ to ¥, ＄ to $).
_EXTRA_AFFIXES: Final[dict[str, tuple[str, ...]]] = {
    "CNY": ("¥", "元", "块", "RMB", "人民币"),
    "HKD": ("$", "元", "港元", "港币", "港幣"),
    "TWD": ("$", "元", "NT", "台币", "台幣", "新台币", "新台幣"),
    "JPY": ("¥", "円", "日元", "日圓"),
    "KRW": ("₩", "원"),
    "USD": ("$", "美元"),
    "EUR": ("€", "欧元", "歐元"),
    "SGD": ("$", "S$"),
    "MYR": ("RM",),
    "THB": ("฿",),
    "VND": ("₫", "đ"),
    "IDR": ("Rp",),
    "KWD": ("KD",),
    "GBP": ("£",),
}


class AmountReason(StrEnum):
    EMPTY = "empty"
    NOT_A_NUMBER = "not_a_number"
    NOT_POSITIVE = "not_positive"
    TOO_PRECISE = "too_precise"
    TOO_LARGE = "too_large"


class InvalidAmount(DomainError):
    """A typed amount cannot be used; `reason` says why (the bot words it for the person)."""

    def __init__(
        self,
        reason: AmountReason,
        *,
        currency: str = "",
        precision: int | None = None,
        maximum: Decimal | None = None,
    ) -> None:
        super().__init__(f"invalid amount: {reason.value}")
        self.reason = reason
        self.currency = currency
        self.precision = precision
        self.maximum = maximum


def is_known_currency(code: str) -> bool:
    """An ISO 4217 code CLDR knows (upper case, as stored)."""
    return code in _known_currencies()


@cache
def _known_currencies() -> frozenset[str]:
    return frozenset(list_currencies())


def _checked(currency: str) -> str:
    code = currency.strip().upper()
    if not is_known_currency(code):
        raise ValueError(f"{currency!r} is not an ISO 4217 currency code")
    return code


def currency_precision(code: str) -> int:
    """Decimal places of a currency (Babel/CLDR): CNY 2, JPY 0, KWD 3."""
    return int(get_currency_precision(_checked(code)))


def parse_amount(text: str, *, currency: str, maximum: Decimal) -> Decimal:
    """An amount a person typed, quantized to the currency's precision (see the module doc).

    Raises :class:`InvalidAmount`.
    """
    code = _checked(currency)
    precision = currency_precision(code)

    def invalid(reason: AmountReason) -> InvalidAmount:
        return InvalidAmount(reason, currency=code, precision=precision, maximum=maximum)

    normal = unicodedata.normalize("NFKC", text).replace("。", ".").replace("\u2212", "-").strip()
    if not normal:
        raise invalid(AmountReason.EMPTY)
    if len(normal) > MAX_AMOUNT_TEXT:
        raise invalid(AmountReason.NOT_A_NUMBER)
    sign, body = _split_sign(normal)
    body = _strip_affixes(body, code)
    if not sign:
        sign, body = _split_sign(body)
    if not body:
        raise invalid(AmountReason.EMPTY)
    match = _NUMBER.fullmatch(body)
    if match is None:
        raise invalid(AmountReason.NOT_A_NUMBER)
    whole = match["whole"] or "0"
    frac = match["frac"] or match["only_frac"] or ""
    value = Decimal(f"{sign}{whole}.{frac or '0'}")
    if value <= 0:
        raise invalid(AmountReason.NOT_POSITIVE)
    if len(frac) > precision:
        raise invalid(AmountReason.TOO_PRECISE)
    if value > maximum:
        raise invalid(AmountReason.TOO_LARGE)
    return value.quantize(Decimal(1).scaleb(-precision))


def _split_sign(text: str) -> tuple[str, str]:
    if text[:1] in ("-", "+"):
        return text[0], text[1:].lstrip()
    return "", text


def _strip_affixes(text: str, code: str) -> str:
    """Remove one sign or code of `code` before and one after the number."""
    for affix in _affixes(code):
        if text[: len(affix)].casefold() == affix:
            text = text[len(affix) :].lstrip()
            break
    for affix in _affixes(code):
        if len(text) >= len(affix) and text[len(text) - len(affix) :].casefold() == affix:
            text = text[: len(text) - len(affix)].rstrip()
            break
    return text


@cache
def _affixes(code: str) -> tuple[str, ...]:
    """Casefolded signs and codes of one currency, longest first ("CN¥" before "¥")."""
    found = {code, *_EXTRA_AFFIXES.get(code, ())}
    for locale in _SYMBOL_LOCALES:
        found.add(get_currency_symbol(code, locale=Locale.parse(locale)))
    normal = {unicodedata.normalize("NFKC", a).casefold() for a in found}
    return tuple(sorted((a for a in normal if a), key=lambda a: (-len(a), a)))


# Telegram invoices take `total_amount` in the currency's smallest units, with the exponent from
# Telegram's https://core.telegram.org/bots/payments/currencies.json ("exp") — that file is the
# authority for invoices. We use Babel's precision, which agrees with it for every restaurant
# currency we checked: CNY, HKD, TWD, USD, EUR, SGD, MYR, THB, IDR 2; JPY, KRW, VND 0. Known
# differences (a snapshot of currencies.json against Babel 2.18 / CLDR):
#   * AFN, ALL, LBP, RSD, YER: Telegram exp 2, Babel 0 (CLDR rounds them to whole units);
#   * KWD (Babel 3) and the other 3-decimal dinars are not Telegram Payments currencies at all;
#   * TWD, IDR, HUF: CLDR's *cash* digits are 0, but precision (and Telegram's exp) is 2.
# A deployment in one of those currencies needs an override here before taking in-chat payments.


_WHOLE_UNITS: Final = frozenset({"CLP", "ISK", "JPY", "KRW", "PYG", "UGX", "VND"})
"""The currencies Telegram Payments counts in whole units (`exp` 0 in Telegram's
currencies.json); every other currency it accepts has `exp` 2."""


def minor_unit_exponent(currency: str) -> int:
    """Telegram's `exp` for a currency: invoice amounts are whole numbers of 10^-exp units.

    This is Telegram's list, not CLDR's precision, and the two differ: CLDR (Babel 2.19) gives
    the rupiah no decimals while Telegram still counts IDR in hundredths, so an invoice of
    Rp 25.000 carries 2500000. A currency Telegram does not take (KWD) keeps CLDR's places."""
    code = _checked(currency)
    if code in _WHOLE_UNITS:
        return 0
    return max(2, currency_precision(code))


def to_minor_units(amount: Decimal, currency: str) -> int:
    """86.50 CNY → 8650; 1500 JPY → 1500; 25000 IDR → 2500000 (Telegram's units, see
    :func:`minor_unit_exponent`). Refuses amounts finer than those units."""
    exponent = minor_unit_exponent(currency)
    if not amount.is_finite():
        raise ValueError(f"{amount} is not an amount")
    scaled = amount.scaleb(exponent)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more than {exponent} decimal places for {currency}")
    return int(scaled)


def from_minor_units(units: int, currency: str) -> Decimal:
    """8650 CNY → Decimal("86.50"); 1500 JPY → Decimal("1500"); 2500000 IDR → the rupiah's
    places (CLDR's), never dropping a fraction that is there."""
    exact = Decimal(units).scaleb(-minor_unit_exponent(currency))
    places = Decimal(1).scaleb(-currency_precision(currency))
    shown = exact.quantize(places)
    return shown if shown == exact else exact


def plain_amount(amount: Decimal, currency: str) -> str:
    """An amount as a plain decimal string with the currency's places, for files and logs:
    Decimal("55.2000") USD → "55.20", 1500 JPY → "1500". Never a float, never an exponent."""
    return format(amount.quantize(Decimal(1).scaleb(-currency_precision(currency))), "f")
