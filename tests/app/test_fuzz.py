"""The fuzzing harness (issue 19): property tests that drive the real dispatcher (through
tests/app/direct.py) and the domain with random and mutated input, so the next forged button
or odd amount is found by a test, not by an attacker.

What is thrown at it:
- every callback-data prefix of ui/keyboards/registry.py with random and boundary fields (real
  ids, 0, the 32-bit edge and past it, 20 digits, negatives, other scripts' digits, empty,
  random text, the wrong number of parts), pressed by every role;
- deep-link payloads: random, and every kind of signed payload mutated (a character changed,
  dropped, added, the end cut off);
- amounts in every locale's digits and separators (the domain parser, and `/bill` typed by a
  cashier);
- POS request bodies and headers (test_fuzz_pos.py) and policy files (test_fuzz_policy.py).

The invariants: no unhandled exception (nothing logged at ERROR, no traceback, no apology for
a failure), every press answered exactly once, every answer in the person's language, and no
row written by a refusal (rows counted before and after: a malformed button, a staff button
pressed by someone without the role, a payload that does not verify, an amount that does not
parse). The examples are bounded (`settings` below): about 40 s of CI time in all.
"""

from __future__ import annotations

import logging
import os
import re
import string
from decimal import Decimal
from typing import Final, Literal, get_args, get_origin

import pytest
from annotated_types import Ge, Le
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from pydantic.fields import FieldInfo

from handlers.callbacks import why_malformed
from loyalty import telegram_users
from loyalty.money import InvalidAmount, currency_precision, parse_amount
from loyalty.qr import (
    CardPayload,
    CouponPayload,
    InvalidPayload,
    ReceiptPayload,
    ReferralPayload,
    StaffInvitePayload,
    TablePayload,
)
from models.tables import Role
from tests.app.cast import (
    CASHIER,
    DINER_EN,
    DINER_HANS,
    DINER_HANT,
    MANAGER,
    OWNER,
    ROLE,
    STRANGER,
    Cast,
    cast,
)
from tests.app.direct import Said
from ui.keyboards.fields import MAX_ID
from ui.keyboards.registry import BY_PREFIX
from ui.locales import LANGUAGE_NAMES, locale_from_language_code

__all__ = ["cast"]

EVERYONE: Final = (OWNER, MANAGER, CASHIER, DINER_EN, DINER_HANS, DINER_HANT, STRANGER)
INVALID: Final = "This button is no longer valid."
APOLOGY: Final = "Sorry, something went wrong on our side. Please try again in a moment."
NEEDS: Final[dict[str, Role]] = {
    "inv": Role.MANAGER,
    "rms": Role.MANAGER,
    "bca": Role.MANAGER,
    "bcv": Role.MANAGER,
    "bct": Role.MANAGER,
    "bcs": Role.MANAGER,
    "bcn": Role.MANAGER,
    "fbh": Role.MANAGER,
    "cmp": Role.MANAGER,
    "aud": Role.OWNER,
    "cc": Role.CASHIER,
    "rc": Role.CASHIER,
}
"""The least role a staff button needs: pressed by anyone less, nothing may be written."""
IGNORED_TABLES: Final = frozenset({"processed_update", "telegram_user"})
"""Written by every update before any handler: the de-duplication record, and the person the
bot has met (a person erased by /forget in an earlier example is met again)."""
_CJK = re.compile(r"[\u3400-\u9fff]")
EXAMPLES: Final = int(os.environ.get("REGULARS_FUZZ_EXAMPLES", "150"))
"""Examples per property in CI; a longer hunt: REGULARS_FUZZ_EXAMPLES=2000 make test."""
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# -- the invariants -----------------------------------------------------------------------------


async def locale_now(cast: Cast, telegram_id: int, *, before: str | None = None) -> str:
    """The person's language as the bot sees it now: a press may have changed it (/language),
    or erased the person (/forget: then `before`, the language they had when they pressed)."""
    async with cast.app.services.session_factory() as session:
        chosen, code = await telegram_users.locale_of(session, telegram_id=telegram_id)
    if chosen is None and code is None:
        return before or cast.locale(telegram_id)
    return chosen or locale_from_language_code(code, "en")


def in_language(text: str, locale: str) -> bool:
    """Chinese answers are written in Chinese; English ones hold no Chinese (our seeded names,
    store and policy texts are ASCII) but the names of the languages, each in its own script."""
    if locale.startswith("zh"):
        return bool(_CJK.search(text))
    for name in LANGUAGE_NAMES.values():
        text = text.replace(name, "")
    return not _CJK.search(text)


async def check_answers(
    cast: Cast,
    who: int,
    said: list[Said],
    caplog: pytest.LogCaptureFixture,
    what: str,
    *,
    before: str,
) -> None:
    failures = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert failures == [], what
    assert not [r for r in caplog.records if r.exc_info], what
    locale = await locale_now(cast, who, before=before)
    mine = [s for s in said if s.chat_id in (None, who) and s.text]
    apology = cast.app.services.i18n.gettext(APOLOGY, locale=locale)
    assert apology not in [s.text for s in mine], what
    for s in mine:
        assert in_language(s.text, locale), (what, locale, s.text)


# -- buttons ------------------------------------------------------------------------------------


def _parts(cast: Cast) -> st.SearchStrategy[str]:
    policy = cast.app.services.policy
    real = [cast.visit, cast.coupon, cast.feedback, cast.staff_row, cast.draft]
    real += list(cast.members.values())
    boundary = ["0", "1", str(MAX_ID), str(MAX_ID + 1), "9" * 20, "-1", "-99999999999"]
    odd = ["", " 1", "1 ", "+1", "1.0", "1e3", "0x1", "١", "１", "٣٤", "true", "None", "🍜"]
    words = [
        *("cashier", "manager", "owner", "diner", "send", "later", "control", "cancel"),
        *("en", "zh_Hans", "zh_Hant", "xx", "dish", "me", "how", "language", "birthday"),
        *("offers_on", "offers_off", "forget_birthday", "back", "taste", "tiers", "stages"),
        *("languages", "tags", "stores", "0", "1", "a" * 12, "b" * 16, "x" * 40),
        *policy.tiers.keys,
        *policy.taste_tags,
        *policy.coupons.templates,
    ]
    return st.one_of(
        st.sampled_from([str(i) for i in real] + boundary + odd + words),
        st.integers(-(10**20), 10**20).map(str),
        st.integers(946_684_800, 4_102_444_800).map(str),
        st.text(max_size=12),
        st.text(alphabet=string.ascii_letters + string.digits + "_-", max_size=24),
    )


def _fitting(cast: Cast, field: FieldInfo) -> st.SearchStrategy[str]:
    """Values of the field's own type: real ids and the edges of its bounds, its Literal
    choices, the policy's keys, tokens: data that parses, to reach the handlers' own checks."""
    choices = get_args(field.annotation)
    if get_origin(field.annotation) is Literal:
        return st.sampled_from([str(c) for c in choices])
    if field.annotation is bool:
        return st.sampled_from(["0", "1"])
    if field.annotation is int:
        low = max([int(str(m.ge)) for m in field.metadata if isinstance(m, Ge)], default=0)
        high = min([int(str(m.le)) for m in field.metadata if isinstance(m, Le)], default=MAX_ID)
        real = [cast.visit, cast.coupon, cast.feedback, cast.staff_row, cast.draft]
        real += [*cast.members.values(), low, high, 1, 2, 3]
        return st.one_of(
            st.sampled_from([i for i in real if low <= i <= high]),
            st.integers(low, high),
        ).map(str)
    policy = cast.app.services.policy
    keys = [*policy.tiers.keys, *policy.taste_tags, *policy.coupons.templates, "1", "x"]
    return st.one_of(
        st.sampled_from(keys),
        st.text(alphabet=string.ascii_letters + string.digits + "_-", min_size=8, max_size=16),
    )


def button_data(cast: Cast) -> st.SearchStrategy[str]:
    prefixes = sorted(BY_PREFIX)

    @st.composite
    def build(draw: st.DrawFn) -> str:
        if draw(st.integers(0, 9)) == 0:  # anything at all
            return draw(st.text(max_size=70))
        prefix = draw(st.sampled_from([*prefixes, "zz", "", "inv ", "INV"]))
        if prefix not in BY_PREFIX:
            return ":".join([prefix, draw(_parts(cast))])
        fields = list(BY_PREFIX[prefix].model_fields.values())
        if draw(st.integers(0, 2)) > 0:  # each field of its own type (most often parses)
            parts = [draw(_fitting(cast, field)) for field in fields]
        else:  # random and boundary parts, sometimes one too many or too few
            arity = len(fields)
            count = draw(st.sampled_from([arity, arity, arity + 1, max(arity - 1, 0)]))
            parts = [draw(_parts(cast)) for _ in range(count)]
        return ":".join([prefix, *parts])

    return build()


@FUZZ
@given(data=st.data())
async def test_any_button_from_anyone(
    cast: Cast, data: st.DataObject, caplog: pytest.LogCaptureFixture
) -> None:
    who = data.draw(st.sampled_from(EVERYONE), label="who")
    pressed = data.draw(button_data(cast), label="data")
    app = cast.app
    before = await app.rows(skip=IGNORED_TABLES)
    language = await locale_now(cast, who)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        said = await app.press(cast.user(who), pressed)
    what = f"{who} pressed {pressed!r}"
    await check_answers(cast, who, said, caplog, what, before=language)
    assert [s.method for s in said].count("answer") == 1, (what, said)
    after = await app.rows(skip=IGNORED_TABLES)
    event("malformed" if why_malformed(pressed) is not None else "parsed")
    event("wrote rows" if after != before else "wrote nothing")
    if why_malformed(pressed) is not None:
        now_speaks = await locale_now(cast, who, before=language)
        invalid = app.services.i18n.gettext(INVALID, locale=now_speaks)
        assert [s.text for s in said] == [invalid], what
        warned = [r for r in caplog.records if r.name == "handlers.callbacks"]
        assert len(warned) == 1, what
        assert after == before, what
    needed = NEEDS.get(pressed.split(":", 1)[0])
    if needed is not None and not ROLE.get(who, Role.DINER).at_least(needed):
        assert after == before, what


# -- deep links ---------------------------------------------------------------------------------

_PAYLOAD_ALPHABET = string.ascii_letters + string.digits + "_-"


def payloads(cast: Cast) -> st.SearchStrategy[str]:
    services = cast.app.services
    sign = services.signer.sign
    now = services.clock.now()
    store = services.store.id
    valid = [
        sign(TablePayload(store_id=store, table=7)),
        sign(CardPayload(cast.members[DINER_EN])),
        sign(ReferralPayload(cast.members[DINER_HANS])),
        sign(ReceiptPayload(999_999, now)),
        sign(StaffInvitePayload(999_999, now)),
        sign(CouponPayload(999_999, now)),
    ]

    @st.composite
    def mutated(draw: st.DrawFn) -> str:
        payload = draw(st.sampled_from(valid))
        how = draw(
            st.sampled_from(["change", "drop", "add", "cut", "double", "case", "same", "same"])
        )
        i = draw(st.integers(0, len(payload) - 1))
        ch = draw(st.sampled_from(_PAYLOAD_ALPHABET))
        return {
            "change": payload[:i] + ch + payload[i + 1 :],
            "drop": payload[:i] + payload[i + 1 :],
            "add": payload[:i] + ch + payload[i:],
            "cut": payload[:i],
            "double": payload + payload,
            "case": payload.swapcase(),
            "same": payload,
        }[how]

    return st.one_of(
        mutated(),
        mutated(),
        st.text(alphabet=_PAYLOAD_ALPHABET, max_size=64),
        st.text(min_size=1, max_size=80).map(lambda t: t if t.strip() else "x"),
    )


@FUZZ
@given(data=st.data())
async def test_any_deep_link_from_anyone(
    cast: Cast, data: st.DataObject, caplog: pytest.LogCaptureFixture
) -> None:
    who = data.draw(st.sampled_from(EVERYONE), label="who")
    payload = data.draw(payloads(cast), label="payload")
    app = cast.app
    services = app.services
    try:
        services.signer.verify(payload.strip(), now=services.clock.now())
        valid = True
    except InvalidPayload:  # ExpiredPayload is one too
        valid = False
    before = await app.rows(skip=IGNORED_TABLES)
    language = await locale_now(cast, who)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        said = await app.say(cast.user(who), f"/start {payload}")
    what = f"{who} opened {payload!r}"
    await check_answers(cast, who, said, caplog, what, before=language)
    assert [s for s in said if s.chat_id == who], what  # always an answer
    event("verified" if valid else "refused")
    if not valid:
        assert await app.rows(skip=IGNORED_TABLES) == before, what


# -- amounts ------------------------------------------------------------------------------------

DIGITS: Final = (
    "0123456789",  # ASCII
    "０１２３４５６７８９",  # fullwidth
    "٠١٢٣٤٥٦٧٨٩",  # Arabic-Indic
    "۰۱۲۳۴۵۶۷۸۹",  # Extended Arabic-Indic
    "०१२३४५६७८९",  # Devanagari
    "〇一二三四五六七八九",  # Chinese numerals
)
MARKS: Final = (".", ",", "，", "．", "。", "·", "'", "’", " ", "\u00a0", "\u202f", "_", "٫", "٬")
AFFIXES: Final = ("", "$", "US$", "¥", "￥", "元", "块", "NT$", "€", "-", "+", "−", "RMB ")


@st.composite
def amount_text(draw: st.DrawFn) -> str:
    digits = draw(st.sampled_from([DIGITS[0], DIGITS[0], DIGITS[0], *DIGITS]))
    groups = draw(
        st.lists(st.text(alphabet=digits, min_size=1, max_size=4), min_size=1, max_size=4)
    )
    marks = [draw(st.sampled_from([".", ",", ".", *MARKS])) for _ in groups[1:]]
    number = groups[0] + "".join(m + g for m, g in zip(marks, groups[1:], strict=True))
    plain = draw(st.booleans())
    before = "" if plain else draw(st.sampled_from(AFFIXES))
    after = "" if plain else draw(st.sampled_from(AFFIXES))
    if draw(st.integers(0, 5)) == 0:
        return draw(st.text(max_size=20))
    return f"{before}{number}{after}"


CURRENCIES: Final = ("USD", "CNY", "TWD", "HKD", "JPY", "KRW", "KWD", "EUR")


@settings(max_examples=EXAMPLES * 3, deadline=None)
@given(text=amount_text(), currency=st.sampled_from(CURRENCIES))
def test_an_amount_in_any_script_is_a_valid_amount_or_a_reason(text: str, currency: str) -> None:
    maximum = Decimal(10_000)
    try:
        amount = parse_amount(text, currency=currency, maximum=maximum)
    except InvalidAmount as exc:
        event(exc.reason.value)
        return
    event("an amount")
    places = currency_precision(currency)
    assert 0 < amount <= maximum, text
    assert -amount.as_tuple().exponent == places, text  # type: ignore[operator]


@settings(
    max_examples=EXAMPLES // 2,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=amount_text())
async def test_a_cashier_typing_any_amount_after_bill(
    cast: Cast, text: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = cast.app
    services = app.services
    before = await app.rows(skip=IGNORED_TABLES)
    language = await locale_now(cast, CASHIER)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        said = await app.say(cast.user(CASHIER), f"/bill {text}")
    what = f"/bill {text!r}"
    await check_answers(cast, CASHIER, said, caplog, what, before=language)
    after = await app.rows(skip=IGNORED_TABLES)
    try:
        parse_amount(
            text,
            currency=services.store.currency,
            maximum=services.policy.max_bill_for(services.store.currency),
        )
    except InvalidAmount:
        event("refused")
        assert after == before, what
        return
    event("a receipt")
    # a receipt: one payment awaiting its claim, one audit line
    assert after["payment"] == before["payment"] + 1, what
    assert after["audit_log"] == before["audit_log"] + 1, what
