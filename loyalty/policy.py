"""The deployment's policy: one TOML file, validated at start-up with one clear line per mistake.

A policy holds the rules a restaurant may tune without touching code: the points rate, payment
limits, fraud limits, consent mode, the tier ladder and its display names, the lapse factors, the
win-back ladder, the marketing caps and quiet hours, the holiday calendar and the treatment of each
tier. Two presets ship inside the package, in ``loyalty/presets/`` (``frequency``, the default, and
``value``; package data, read with ``importlib.resources`` so an installed wheel has them); a
deployment's file may start from one with ``preset = "frequency"`` and override keys:

* tables merge key by key; a list (``tiers.ladder``, ``ladder.steps``, ``holidays``) is replaced as
  a whole, and so is a tier's ``perk`` (a percentage turned into a free drink keeps no cap);
* when the file gives its own ``tiers.ladder``, the preset's tier names and treatments for tiers the
  new ladder no longer has are dropped (the file's own are always checked);
* ``name`` defaults to the file's stem.

Unknown keys are rejected (they are typos), numbers must be numbers (amounts may also be quoted
strings: ``max_bill = "9999.99"``), and every error names the file and the key:
``policy.toml: tiers.ladder[2].min_visits must be greater than tiers.ladder[1]'s (4), not 4``.
List positions count from 0, as in the error paths of most tools.

The values are frozen dataclasses (pydantic dataclasses: the same classes validate the file).
"""

from __future__ import annotations

import datetime
import difflib
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import fields, is_dataclass, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import cache
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import PurePath
from types import MappingProxyType
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic.dataclasses import dataclass

from loyalty.money import is_known_currency

PRESETS_DIR: Final[Traversable] = files("loyalty") / "presets"
PRESETS: Final = ("frequency", "value", "grades")
DEFAULT_PRESET: Final = "frequency"
POLICY_LOCALES: Final = ("en", "zh_Hans", "zh_Hant")

_CONFIG: Final = ConfigDict(extra="forbid")
_Date = datetime.date
_MINUTES_PER_DAY: Final = 24 * 60
_DAYS_PER_MONTH: Final = Decimal(30)
_CENT: Final = Decimal("0.01")
_ONE: Final = Decimal(1)


class PolicyError(Exception):
    """The policy file is unusable; the message is one line naming the file and the key."""


# -- value types -------------------------------------------------------------------------------


def _number_to_float(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a number")
    return float(value)


def _frozen_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(value))


def _tier_key(value: str) -> str:
    if not (value[:1].isascii() and value[:1].isalpha()) or not all(
        ch.isascii() and (ch.isalnum() or ch == "_") for ch in value
    ):
        raise ValueError(f"must be letters, digits and _, starting with a letter, not {value!r}")
    return value


def _currency_key(value: str) -> str:
    if not is_known_currency(value):
        raise ValueError(f"must be an ISO 4217 currency code (e.g. CNY, JPY), not {value!r}")
    return value


def _never_true(value: bool) -> bool:
    if value:
        raise ValueError("must be false: a cashier can never credit their own account")
    return value


def _days(limit: int) -> Any:
    return Field(ge=0, le=limit)


Count = Annotated[int, Strict(), Field(ge=0)]
Amount = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]
PositiveAmount = Annotated[Decimal, Field(gt=0, allow_inf_nan=False)]
Factor = Annotated[float, BeforeValidator(_number_to_float)]
Text = Annotated[str, Strict(), Field(min_length=1, max_length=64)]
TierKey = Annotated[str, Strict(), Field(min_length=1, max_length=32), AfterValidator(_tier_key)]
CurrencyKey = Annotated[str, Strict(), AfterValidator(_currency_key)]
Adapt = Literal["lower_minimum", "smaller"]


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class LocalizedText:
    """A short text the policy gives in each of our languages (tier names, holiday names)."""

    en: Text
    zh_Hans: Text
    zh_Hant: Text

    def get(self, locale: str) -> str:
        if locale == "zh_Hans":
            return self.zh_Hans
        if locale == "zh_Hant":
            return self.zh_Hant
        return self.en


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class LocalizedNote:
    """A sentence or two the policy gives in each of our languages (a tier's holiday words)."""

    en: Annotated[str, Strict(), Field(min_length=1, max_length=300)]
    zh_Hans: Annotated[str, Strict(), Field(min_length=1, max_length=300)]
    zh_Hant: Annotated[str, Strict(), Field(min_length=1, max_length=300)]

    def get(self, locale: str) -> str:
        return {"zh_Hans": self.zh_Hans, "zh_Hant": self.zh_Hant}.get(locale, self.en)


# -- sections ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Payments:
    max_bill: PositiveAmount = Decimal(10000)
    """The largest bill accepted, in the store's currency unless overridden below."""
    max_bill_by_currency: Annotated[
        Mapping[CurrencyKey, PositiveAmount], AfterValidator(_frozen_mapping)
    ] = Field(default_factory=dict)
    receipt_claim_ttl_minutes: Annotated[int, Strict(), Field(ge=1, le=7 * _MINUTES_PER_DAY)] = 120
    bill_ttl_minutes: Annotated[int, Strict(), Field(ge=1, le=_MINUTES_PER_DAY)] = 30


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Fraud:
    max_credited_payments_per_day: Annotated[int, Strict(), Field(ge=1, le=100)] = 3
    """Per member and day; further payments are recorded but earn no points or visits."""
    min_minutes_between_visits: Annotated[int, Strict(), Field(ge=0, le=_MINUTES_PER_DAY)] = 30
    """A payment within this many minutes of the last counted visit is credited (money and
    points) but is not a new visit: a second round of drinks or a split bill is one visit."""
    cashier_self_credit: Annotated[bool, Strict(), AfterValidator(_never_true)] = False

    def counts_as_new_visit(
        self, *, last_visit: datetime.datetime | None, at: datetime.datetime
    ) -> bool:
        """Whether a payment at `at` is a new visit, given the member's last counted visit."""
        if last_visit is None:
            return True
        return at - last_visit >= datetime.timedelta(minutes=self.min_minutes_between_visits)


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Consent:
    mode: Literal["opt-in", "opt-out"] = "opt-in"


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Rung:
    """One step of the tier ladder: a member stands on it when they meet every threshold."""

    name: TierKey
    min_visits: Count = 0
    min_spend: Amount = Decimal(0)
    min_referrals: Count = 0
    min_suggestions: Count = 0
    match: Literal["all", "any"] = "all"
    """"all": every threshold above must be met; "any": one of the non-zero thresholds is enough
    (a rung with no non-zero threshold is met by everyone)."""

    def conditions(self) -> tuple[tuple[str, int | Decimal], ...]:
        """The thresholds this rung sets, as (key, minimum); zero thresholds are left out."""
        pairs: tuple[tuple[str, int | Decimal], ...] = (
            ("visits", self.min_visits),
            ("spend", self.min_spend),
            ("referrals", self.min_referrals),
            ("suggestions", self.min_suggestions),
        )
        return tuple((key, value) for key, value in pairs if value)

    def met_by(self, *, visits: int, spend: Decimal, referrals: int, suggestions: int) -> bool:
        have: dict[str, int | Decimal] = {
            "visits": visits,
            "spend": spend,
            "referrals": referrals,
            "suggestions": suggestions,
        }
        results = [Decimal(have[key]) >= Decimal(minimum) for key, minimum in self.conditions()]
        if not results:
            return True
        return any(results) if self.match == "any" else all(results)

    def over(self, *, days: int, per: str, scale: Decimal) -> Rung:
        """This rung as window totals: `per` "month" turns monthly averages into totals over a
        window of `days` (a month is 30 days: over 90 days, 8 visits a month is 24 visits), and
        `scale` multiplies the spend threshold. Counts round up (24.4 visits: 25); spend to the
        cent, up."""
        if per == "window" and scale == 1:
            return self
        months = Decimal(days) / _DAYS_PER_MONTH if per == "month" else Decimal(1)

        def count(value: int) -> int:
            return int((value * months).to_integral_value(rounding=ROUND_CEILING))

        spend = (self.min_spend * scale * months).quantize(_CENT, rounding=ROUND_CEILING)
        return replace(
            self,
            min_visits=count(self.min_visits),
            min_spend=spend.quantize(_ONE) if spend == spend.to_integral_value() else spend,
            min_referrals=count(self.min_referrals),
            min_suggestions=count(self.min_suggestions),
        )


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Tiers:
    ladder: Annotated[tuple[Rung, ...], Field(min_length=1, max_length=12)]
    """Lowest first; the first rung is the floor every member stands on."""
    names: Annotated[Mapping[TierKey, LocalizedText], AfterValidator(_frozen_mapping)]
    kind: Literal["frequency", "value"] = "frequency"
    window_days: Annotated[int, Strict(), Field(ge=7, le=730)] = 90
    """Visits, spend, referrals and suggestions count over this trailing window."""
    per: Literal["window", "month"] = "window"
    """"window": the ladder's thresholds are totals over the window; "month": they are monthly
    averages over it (a month is 30 days: 8 visits a month over 90 days is 24 visits)."""
    amount_scale: PositiveAmount = Decimal(1)
    """Multiplies every min_spend of the ladder: a preset's ratios at a restaurant's own price
    level (0.5 halves every amount, the grades keep their order)."""
    min_membership_days: Annotated[int, Strict(), _days(366)] = 0
    """Members younger than this are not graded yet (they stand on `ungraded_tier`)."""
    ungraded_tier: TierKey | None = None
    downgrade: Literal["silent", "notify"] = "silent"
    """Whether a member who drops a tier is told (an upgrade is congratulated, see below)."""
    downgrade_grace_days: Annotated[int, Strict(), _days(365)] = 30
    """A downgrade waits this long: what left the window keeps counting for these days more
    (and no downgrade happens while the member's win-back episode is open)."""
    treatment_lookback_days: Annotated[int, Strict(), Field(ge=0, le=730)] = 180
    """Automated campaigns treat a member as the highest tier they held within these days, so a
    loyal member who pauses is still treated as loyal (care, never a discount)."""
    congratulate_once_days: Annotated[int, Strict(), Field(ge=0, le=3650)] = 365
    """An upgrade to a tier already congratulated within these days is not congratulated again
    (a tier that flaps between a payment and the nightly refresh)."""

    @property
    def keys(self) -> tuple[str, ...]:
        """Every tier key, lowest first (the ungraded tier before the ladder)."""
        ladder = tuple(rung.name for rung in self.ladder)
        return ladder if self.ungraded_tier is None else (self.ungraded_tier, *ladder)

    @property
    def top(self) -> str:
        return self.ladder[-1].name

    def rank(self, key: str) -> int:
        """Position on the ladder, lowest 0 (the ungraded tier ranks below the floor)."""
        try:
            return self.keys.index(key)
        except ValueError:
            return -1

    @property
    def counted(self) -> tuple[Rung, ...]:
        """The ladder as window totals (`per` and `amount_scale` applied): what a member's
        figures over the window are compared with."""
        return tuple(
            rung.over(days=self.window_days, per=self.per, scale=self.amount_scale)
            for rung in self.ladder
        )

    def rung(self, key: str) -> Rung:
        for rung in self.ladder:
            if rung.name == key:
                return rung
        raise KeyError(key)

    def display_name(self, key: str, locale: str) -> str:
        """The tier's name in `locale`; the key itself for a tier the policy no longer has (a
        member's stored tier until the nightly refresh moves them)."""
        names = self.names.get(key)
        return names.get(locale) if names is not None else key


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Lapse:
    """Each member's own rhythm decides when they are slowing, lapsed (the win-back ladder
    starts) and lost: at these factors times their expected interval since the last visit."""

    shrinkage_visits: Annotated[int, Strict(), Field(ge=0, le=100)] = 1
    """How many visit gaps of the cohort's rhythm weigh against the member's own: the expected
    interval is (n·own + k·cohort) / (n + k) for n visit gaps and k = shrinkage_visits."""
    half_life_visits: Annotated[Factor, Field(gt=0, le=100)] = 2.0
    """Recency: a gap weighs half as much as one `half_life_visits` visits more recent in the
    member's own typical gap (see loyalty.lifecycle)."""
    slowing_factor: Annotated[Factor, Field(ge=1, le=10)] = 1.25
    """Slowing once the time since the last visit exceeds this times the expected interval."""
    lapsed_factor: Annotated[Factor, Field(gt=1, le=20)] = 1.5
    """Lapsed (overdue: the win-back ladder starts) beyond this times the expected interval."""
    lost_factor: Annotated[Factor, Field(gt=1, le=50)] = 4.0
    """Lost (no more spend) beyond this times the expected interval."""
    default_interval_days: Annotated[int, Strict(), Field(ge=1, le=365)] = 30
    """The cohort rhythm to assume before there is enough data."""
    min_cohort_members: Annotated[int, Strict(), Field(ge=1, le=100000)] = 20
    """A cohort (acquisition channel × tier) with fewer members with a gap than this borrows the
    norm of its tier across channels, then of all members, then default_interval_days."""
    active_min_visits: Annotated[int, Strict(), Field(ge=2, le=100)] = 3
    """From this many visits on, a member on rhythm is "active"; below it "returning"."""
    rising_ratio: Annotated[Factor, Field(gt=0, lt=1)] = 0.8
    """Rising: the last two gaps average at most this share of the member's earlier gaps."""
    cooling_ratio: Annotated[Factor, Field(gt=1, le=10)] = 1.25
    """Cooling: a gap runs longer than this times the one before it after shortening or steady
    gaps (the turn of seed 004), noticed while it runs, before the member is overdue."""


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class LadderStep:
    """One step of the win-back ladder."""

    message: Literal["care", "coupon"]
    wait_days: Annotated[int, Strict(), _days(365)] = 0
    """Days after becoming overdue (first step) or after the previous step."""
    coupon_value: PositiveAmount | None = None
    """Amount off, in the store's currency (coupon steps only)."""
    coupon_min_spend: Amount = Decimal(0)
    coupon_valid_days: Annotated[int, Strict(), Field(ge=1, le=365)] = 14
    coupon_adapt: Adapt = "lower_minimum"
    """When the minimum spend is above the member's typical (median) bill: "lower_minimum" to
    that bill, or "smaller": issue the template `coupon_smaller` instead."""
    coupon_smaller: TierKey | None = None

    @model_validator(mode="after")
    def _coupon_fields(self) -> LadderStep:
        if self.message == "coupon" and self.coupon_value is None:
            raise ValueError('needs a coupon_value (it has message = "coupon")')
        if self.message == "care" and self.coupon_value is not None:
            raise ValueError('has a coupon_value, which only message = "coupon" steps take')
        if self.coupon_adapt == "smaller" and self.coupon_smaller is None:
            raise ValueError('needs coupon_smaller (a template key) for coupon_adapt = "smaller"')
        return self


def _default_steps() -> tuple[LadderStep, ...]:
    return (
        LadderStep(message="care", wait_days=0),
        LadderStep(
            message="coupon", wait_days=7, coupon_value=Decimal(20), coupon_min_spend=Decimal(100)
        ),
        LadderStep(
            message="coupon", wait_days=14, coupon_value=Decimal(40), coupon_min_spend=Decimal(150)
        ),
    )


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Ladder:
    """Win-back: care message → coupon → stronger coupon → stop (the member is lost)."""

    steps: Annotated[tuple[LadderStep, ...], Field(max_length=8)] = Field(
        default_factory=_default_steps
    )
    max_unanswered_offers: Annotated[int, Strict(), Field(ge=1, le=20)] = 2
    """After this many automated coupon offers in a row went unanswered (across episodes), the
    member gets care messages only, no coupons, until they answer one."""
    offer_answered_by: Literal["redemption", "visit"] = "redemption"
    """An offer is answered when it is redeemed, or ("visit") also when the member comes back
    while it is valid."""
    validity_slack_days: Annotated[int, Strict(), _days(90)] = 7
    """An automated coupon stays valid at least until the member's next expected visit plus
    these days."""
    lost_keeps: tuple[Literal["birthday", "holiday", "new_dish"], ...] = ("birthday",)
    """The automated campaigns a lost member still gets (with their consent); the others stop."""


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local times between which no marketing goes out; `start` > `end` wraps past midnight."""

    start: datetime.time
    end: datetime.time

    def contains(self, at: datetime.time) -> bool:
        if self.start < self.end:
            return self.start <= at < self.end
        return at >= self.start or at < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def _clock_time(text: str) -> datetime.time | None:
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not (hours.isdigit() and minutes.isdigit()) or len(minutes) != 2:
        return None
    if len(hours) not in (1, 2) or int(hours) > 23 or int(minutes) > 59:
        return None
    return datetime.time(int(hours), int(minutes))


def _quiet_hours(value: Any) -> Any:
    if isinstance(value, QuietHours):
        return value
    if not isinstance(value, str):
        raise ValueError('must be a string like "21:00-09:00"')
    start_text, sep, end_text = value.partition("-")
    start, end = _clock_time(start_text), _clock_time(end_text)
    if not sep or start is None or end is None:
        raise ValueError(f'must look like "21:00-09:00" (24-hour HH:MM-HH:MM), not {value!r}')
    if start == end:
        raise ValueError(f"must not start and end at the same time ({value!r})")
    return QuietHours(start=start, end=end)


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Caps:
    max_marketing_per_week: Annotated[int, Strict(), Field(ge=0, le=14)] = 2
    """Marketing messages (automated and broadcast) per member and week; transactional exempt."""
    quiet_hours: Annotated[QuietHours, BeforeValidator(_quiet_hours)] = QuietHours(
        start=datetime.time(21), end=datetime.time(9)
    )


def _month_day(value: str) -> str:
    month, sep, day = value.partition("-")
    try:
        # 2024 is a leap year: "02-29" is a valid yearly day
        _Date(2024, int(month), int(day))
        valid = bool(sep) and all(len(p) == 2 and p.isascii() and p.isdigit() for p in (month, day))
    except ValueError:
        valid = False
    if not valid:
        raise ValueError(f'must look like "12-25" (MM-DD), not {value!r}')
    return value


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Holiday:
    """A greeting day: a fixed `date` (moving feasts) or a yearly `month_day` ("12-25")."""

    name: LocalizedText
    date: _Date | None = None
    month_day: Annotated[str, Strict(), AfterValidator(_month_day)] | None = None

    @model_validator(mode="after")
    def _one_day(self) -> Holiday:
        if (self.date is None) == (self.month_day is None):
            raise ValueError('needs exactly one of date (2026-02-17) or month_day ("12-25")')
        return self

    def occurs_on(self, day: _Date) -> bool:
        if self.date is not None:
            return self.date == day
        return self.month_day == f"{day:%m-%d}"


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Multiplier:
    """More points at chosen times ("double points on Tuesdays"), in the store's local time."""

    factor: Annotated[Factor, Field(gt=1, le=10)]
    weekdays: tuple[Weekday, ...] = ()
    """Empty: every day."""
    hours: Annotated[QuietHours, BeforeValidator(_quiet_hours)] | None = None
    """A local time window like "14:00-17:00"; none: all day."""

    def applies(self, local: datetime.datetime) -> bool:
        if self.weekdays and WEEKDAYS[local.weekday()] not in self.weekdays:
            return False
        return self.hours is None or self.hours.contains(local.time())


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Exchange:
    """Points a member can trade for a coupon in /wallet."""

    template: TierKey
    cost: Annotated[int, Strict(), Field(ge=1, le=10_000_000)]


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Points:
    per_currency_unit: Amount = Decimal(1)
    """Points per 1 unit of the store's currency; points are whole, rounded down."""
    referral_bonus: Count = 100
    """Points to the referrer when the referee pays for the first time."""
    expire_days: Annotated[int, Strict(), Field(ge=0, le=3650)] = 0
    """Earned points not spent within this many days expire (oldest first); 0: never."""
    multipliers: tuple[Multiplier, ...] = ()
    """The highest factor that applies is used (they do not compound)."""
    exchange: tuple[Exchange, ...] = ()

    def factor_at(self, local: datetime.datetime | None) -> float:
        if local is None:
            return 1.0
        return max((m.factor for m in self.multipliers if m.applies(local)), default=1.0)

    def for_amount(self, amount: Decimal, *, local: datetime.datetime | None = None) -> int:
        """Points earned for a payment of `amount` at local time `local` (whole, rounded down)."""
        if amount < 0:
            raise ValueError("points are earned on positive amounts only")
        factor = Decimal(str(self.factor_at(local)))
        earned = amount * self.per_currency_unit * factor
        return int(earned.to_integral_value(rounding=ROUND_FLOOR))

    def exchange_for(self, template: str) -> Exchange | None:
        return next((e for e in self.exchange if e.template == template), None)


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class CouponTemplate:
    """A kind of coupon: an amount off (with a minimum spend), a percentage off (with a cap) or a
    free dish; valid until the end of the store's local day `valid_days` after it is issued."""

    kind: Literal["amount", "percent", "dish"]
    value: PositiveAmount
    """Amount off in the store's currency; the percentage (1–100); or the dish's price."""
    min_spend: Amount = Decimal(0)
    cap: PositiveAmount | None = None
    """The most a percentage coupon takes off."""
    valid_days: Annotated[int, Strict(), Field(ge=0, le=365)] = 30
    dish: LocalizedText | None = None
    adapt: Adapt = "lower_minimum"
    """An automated coupon whose min_spend is above the member's typical (median) bill:
    "lower_minimum" to that bill, or "smaller": issue the template `smaller` instead."""
    smaller: TierKey | None = None

    @model_validator(mode="after")
    def _fields_of_kind(self) -> CouponTemplate:
        if self.kind == "percent" and self.value > 100:
            raise ValueError(f"value must be at most 100 for a percent coupon, not {self.value}")
        if self.kind != "percent" and self.cap is not None:
            raise ValueError('has a cap, which only kind = "percent" coupons take')
        if self.kind == "dish" and self.dish is None:
            raise ValueError('needs a dish (en, zh_Hans, zh_Hant names) for kind = "dish"')
        if self.kind != "dish" and self.dish is not None:
            raise ValueError('has a dish, which only kind = "dish" coupons take')
        if self.adapt == "smaller" and self.smaller is None:
            raise ValueError('needs smaller (a template key) for adapt = "smaller"')
        return self

    def discount(self, bill: Decimal, *, places: int) -> Decimal:
        return discount_for(self.kind, self.value, self.cap, bill=bill, places=places)


def discount_for(
    kind: str, value: Decimal, cap: Decimal | None, *, bill: Decimal, places: int
) -> Decimal:
    """What a coupon takes off a bill of `bill` (never more than the bill), to `places`."""
    if kind == "percent":
        off = (bill * value / 100).quantize(Decimal(1).scaleb(-places), rounding=ROUND_FLOOR)
        if cap is not None:
            off = min(off, cap)
    else:
        off = value
    return min(off, bill)


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Campaigns:
    """The automated campaigns' knobs (the treatment of each tier says which get what)."""

    holdout_share: Annotated[Factor, Field(ge=0, le=0.5)] = 0.1
    """The share of each campaign's audience kept as a control group (recorded, never sent)."""
    birthday_coupon: TierKey | None = None
    """The template of a birthday gift (tiers whose treatment gives birthday = "coupon")."""
    birthday_days_before: Annotated[int, Strict(), Field(ge=0, le=14)] = 0
    second_visit_coupon: TierKey | None = None
    second_visit_factor: Annotated[Factor, Field(ge=0.3, le=3)] = 1.0
    """A newcomer is nudged at this times the cohort's typical first return after their visit."""
    holiday_coupon: TierKey | None = None
    new_dish_tasting_value: PositiveAmount = Decimal(50)
    """A new dish's free tasting (tiers whose treatment gives new_dish = "coupon") takes at most
    this off the bill, in the store's currency."""
    new_dish_tasting_days: Annotated[int, Strict(), Field(ge=1, le=90)] = 14
    on_cooling: Literal["off", "care"] = "care"
    """A member turning cooling (seed 004's turn) gets an early care message, before overdue."""
    on_rising: Literal["off", "thanks"] = "thanks"
    """A member whose gaps shorten gets a thank-you that names their next tier."""


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class FeedbackPolicy:
    """The post-visit question "how was it?" (1–5 stars)."""

    ask_after_hours: Annotated[int, Strict(), Field(ge=1, le=48)] = 3
    """Hours after a visit the member is asked (quiet hours defer it to the morning)."""
    low_rating: Annotated[int, Strict(), Field(ge=1, le=4)] = 2
    """Ratings at or below this ask what went wrong and reach the managers at once."""
    adopted_coupon: TierKey | None = None
    """The coupon template a member gets when a manager adopts their suggestion (seed 001's B:
    "對顧客提出建議采購時給予獎勵"); None: a thank-you only."""


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Export:
    managers_see_personal_data: bool = False
    """`/export` by a manager (scoped to a store) leaves out names and birthdays unless true;
    owners always get them."""


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Coupons:
    templates: Annotated[Mapping[TierKey, CouponTemplate], AfterValidator(_frozen_mapping)] = Field(
        default_factory=dict
    )
    redemption_minutes: Annotated[int, Strict(), Field(ge=1, le=60)] = 10
    """How long a redemption QR and its short code stay valid."""
    wrong_code_limit: Annotated[int, Strict(), Field(ge=1, le=100)] = 5
    """Wrong codes a cashier may type within wrong_code_window_minutes before a pause."""
    wrong_code_window_minutes: Annotated[int, Strict(), Field(ge=1, le=_MINUTES_PER_DAY)] = 15


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Care:
    """The care desk (loyalty.care): the members who need a person today, not a campaign."""

    hour: Annotated[int, Strict(), Field(ge=0, le=23)] = 10
    """The local hour (each store's time zone) the day's list reaches its managers and the
    owners."""
    overdue_tiers: tuple[TierKey, ...] | None = None
    """Tiers whose members are listed once past their own rhythm by overdue_margin_days (also
    when the absence itself cost them the tier); None: the two highest rungs of the ladder."""
    overdue_margin_days: Annotated[int, Strict(), Field(ge=1, le=365)] = 14
    """Listed when the days since the last visit reach the usual rhythm plus this margin."""
    monthly_minimum: Annotated[int, Strict(), Field(ge=0, le=31)] = 3
    """Listed when the visits of the last 30 days fall below this after the 30 days before met
    it; also the survey's line ("why don't we see you more?"). 0: off."""
    spend_drop: Annotated[Factor, Field(ge=0, lt=1)] = 0.3
    """Listed when the average bill of the last spend_visits bills is this share or more below
    the average of the spend_visits before them. 0: off."""
    spend_visits: Annotated[int, Strict(), Field(ge=1, le=20)] = 3
    thank_rising: bool = True
    """List members whose visits come closer together (to thank them)."""
    list_gave_up: bool = True
    """List, once, members the win-back ladder gave up on."""
    later_days: Annotated[int, Strict(), Field(ge=1, le=30)] = 1
    """"Later" puts an entry back on the list this many days on."""
    max_entries: Annotated[int, Strict(), Field(ge=1, le=50)] = 10
    """Entries shown at a time (the most pressing first); /care shows the rest as they go."""
    repeat_days: Annotated[int, Strict(), Field(ge=1, le=730)] = 90
    """A member is listed again for the same reason (below the minimum, falling spend, rising)
    no sooner than this."""

    def overdue_tiers_in(self, tiers: Tiers) -> tuple[str, ...]:
        if self.overdue_tiers is not None:
            return self.overdue_tiers
        return tuple(rung.name for rung in tiers.ladder[-2:])


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Survey:
    """The survey "why don't we see you more?": one-tap reasons, asked by a manager from the care
    list or by the policy of members coming less than care.monthly_minimum times a month."""

    auto: bool = True
    """Ask members below the minimum (with at least one visit in the last 30 days) without a
    manager."""
    every_days: Annotated[int, Strict(), Field(ge=7, le=730)] = 90
    """A member is asked at most once in this many days, whoever asks."""
    min_membership_days: Annotated[int, Strict(), Field(ge=0, le=365)] = 30
    """The policy asks only members of at least this many days (a month says how often)."""


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Reports:
    returning_days: Annotated[int, Strict(), Field(ge=1, le=365)] = 30
    """A member whose second visit came within this many days of the first is "returning"."""
    digest: bool = True
    """A weekly digest (figures and charts) to the owners."""
    digest_weekday: Weekday = "mon"
    digest_hour: Annotated[int, Strict(), Field(ge=0, le=23)] = 9
    """Local time of the default store."""


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Reminders:
    """The reminders members expect from a loyalty app. Each is marketing: only to members who
    said yes, within caps.max_marketing_per_week, never in caps.quiet_hours; each fires once.
    A number of 0 turns its reminder off."""

    points_expiring_days: Annotated[int, Strict(), _days(60)] = 7
    """Days before the nightly refresh would expire points (points.expire_days)."""
    coupon_expiring_days: Annotated[int, Strict(), _days(30)] = 3
    """Days before a coupon's last day."""
    near_reward_visits: Annotated[int, Strict(), _days(5)] = 1
    """Tell a member this close to the next tier (visits missing) or to what points buy (the
    points they usually earn in this many visits)."""
    keep_tier_days: Annotated[int, Strict(), _days(60)] = 7
    """Days before a member drops a tier unless they visit, when their rhythm would not bring
    them back in time."""
    anniversary: Annotated[bool, Strict()] = True
    """Thank members on each anniversary of joining."""
    announce_multipliers: Annotated[bool, Strict()] = False
    """On a day a points.multipliers rule with weekdays applies, tell members in the morning."""
    holdout_share: Annotated[Factor, Field(ge=0, le=0.5)] = 0.0
    """A control group for reminders, as campaigns.holdout_share is for campaigns."""


def _clock_times(value: Any) -> Any:
    if not isinstance(value, list | tuple) or not value:
        raise ValueError('must be a list of times like ["12:00", "19:30"]')
    # "19:30", or a TOML local time (19:30:00, as `regulars policy show` writes it)
    times = [
        v.replace(second=0, microsecond=0)
        if isinstance(v, datetime.time) and v.tzinfo is None
        else _clock_time(v)
        if isinstance(v, str)
        else None
        for v in value
    ]
    if any(t is None for t in times):
        raise ValueError(f'must be 24-hour times like "19:30", not {value!r}')
    if times != sorted(set(times)):  # type: ignore[type-var]
        raise ValueError("must be in order, each once")
    return tuple(times)


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Reservations:
    """Reserving a table (/reserve, or a treatment's button): the days and times a member may
    pick, in the store's time zone; the store's managers confirm each request."""

    days_ahead: Annotated[int, Strict(), Field(ge=1, le=60)] = 14
    """Today and the days after it a member may pick."""
    times: Annotated[tuple[datetime.time, ...], BeforeValidator(_clock_times)] = tuple(
        datetime.time(h, m) for h in (12, 13, 18, 19, 20) for m in (0, 30)
    )
    """The times offered (lunch and dinner, every half hour by default)."""
    max_party: Annotated[int, Strict(), Field(ge=1, le=30)] = 12
    remind_hour: Annotated[int, Strict(), Field(ge=0, le=23)] = 9
    """A confirmed table is recalled to the member at this local hour on its day."""


Action = Literal["off", "message", "coupon"]


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Perk:
    """A standing perk at every visit (seed 001's C: "a beer or 10 % off each time"): shown to
    the cashier when the card is scanned, taken off a bill paid in chat, one per bill.

    ``perk = { kind = "percent", value = 10, cap = 50 }`` or
    ``perk = { kind = "item", value = 15, item = { en = "a drink", zh_Hans = …, zh_Hant = … } }``.
    """

    kind: Literal["percent", "item"]
    value: PositiveAmount
    """The percentage (1–100); or the item's price, taken off a bill paid in chat."""
    cap: PositiveAmount | None = None
    """The most a percentage perk takes off one bill."""
    item: LocalizedText | None = None
    """What the item is, for kind = "item" ("a drink of your choice")."""
    min_spend: Amount = Decimal(0)
    """Bills below this get no perk."""

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Perk:
        if self.kind == "percent" and self.value > 100:
            raise ValueError(f"value must be at most 100 for a percent perk, not {self.value}")
        if self.kind != "percent" and self.cap is not None:
            raise ValueError('has a cap, which only kind = "percent" perks take')
        if self.kind == "item" and self.item is None:
            raise ValueError('needs an item (en, zh_Hans, zh_Hant names) for kind = "item"')
        if self.kind != "item" and self.item is not None:
            raise ValueError('has an item, which only kind = "item" perks take')
        return self

    def discount(self, bill: Decimal, *, places: int) -> Decimal:
        """What the perk takes off a bill of `bill` (0 below min_spend; never the whole bill)."""
        if bill < self.min_spend:
            return Decimal(0)
        kind = "percent" if self.kind == "percent" else "amount"
        off = discount_for(kind, self.value, self.cap, bill=bill, places=places)
        return off if off < bill else Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Treatment:
    """Which automated messages a tier gets, and whether with a coupon (a gift, a tasting)."""

    second_visit: Action = "message"
    birthday: Action = "message"
    new_dish: Literal["off", "message", "friends", "coupon"] = "message"
    """"friends": the invitation asks them to bring friends (with their referral link);
    "coupon": a free tasting."""
    holiday: Action = "message"
    winback: Literal["off", "care", "ladder"] = "ladder"
    """"care": care messages only, never a discount (loyal members); "ladder": the whole ladder."""
    perk: Perk | None = None
    """A standing perk at every visit (see Perk)."""
    offer_table: tuple[Literal["birthday", "holiday"], ...] = ()
    """The messages that offer to keep a table ("Reserve a table" under them): seed 001 asks B
    on their birthday, and A before the holidays."""
    holiday_note: LocalizedNote | None = None
    """Words of this tier's own under the holiday greeting (seed 001 greets each grade its own
    way)."""


_DEFAULT_LABELS: Final = {
    "neighbour": LocalizedText(en="Neighbour", zh_Hans="周边居民", zh_Hant="周邊居民"),
    "company": LocalizedText(en="Company", zh_Hans="企业客户", zh_Hant="企業客戶"),
    "student": LocalizedText(en="Student", zh_Hans="学生", zh_Hant="學生"),
    "influencer": LocalizedText(en="Influencer", zh_Hans="有影响力", zh_Hant="有影響力"),
    "official": LocalizedText(en="Local official", zh_Hans="政府及居委", zh_Hant="政府及居委"),
}


@dataclass(frozen=True, slots=True, kw_only=True, config=_CONFIG)
class Policy:
    name: Text
    tiers: Tiers
    points: Points = Field(default_factory=Points)
    coupons: Coupons = Field(default_factory=Coupons)
    campaigns: Campaigns = Field(default_factory=Campaigns)
    payments: Payments = Field(default_factory=Payments)
    fraud: Fraud = Field(default_factory=Fraud)
    consent: Consent = Field(default_factory=Consent)
    lapse: Lapse = Field(default_factory=Lapse)
    ladder: Ladder = Field(default_factory=Ladder)
    caps: Caps = Field(default_factory=Caps)
    holidays: tuple[Holiday, ...] = ()
    taste_tags: Annotated[Mapping[TierKey, LocalizedText], AfterValidator(_frozen_mapping)] = Field(
        default_factory=dict
    )
    """Tags a dish carries and a member may pick in /profile (key → names in each language)."""
    labels: Annotated[Mapping[TierKey, LocalizedText], AfterValidator(_frozen_mapping)] = Field(
        default_factory=lambda: MappingProxyType(dict(_DEFAULT_LABELS))
    )
    """Kinds of guest a manager marks a member with (/tag; seed 001's potential guests and its
    "客戶背景"): shown in explain and exports, a /broadcast segment."""
    feedback: FeedbackPolicy = Field(default_factory=FeedbackPolicy)
    export: Export = Field(default_factory=Export)
    care: Care = Field(default_factory=Care)
    survey: Survey = Field(default_factory=Survey)
    reports: Reports = Field(default_factory=Reports)
    treatments: Annotated[Mapping[TierKey, Treatment], AfterValidator(_frozen_mapping)] = Field(
        default_factory=dict
    )
    reminders: Reminders = Field(default_factory=Reminders)
    reservations: Reservations = Field(default_factory=Reservations)

    def max_bill_for(self, currency: str) -> Decimal:
        return self.payments.max_bill_by_currency.get(currency.upper(), self.payments.max_bill)

    def treatment_for(self, tier: str) -> Treatment:
        return self.treatments.get(tier, _DEFAULT_TREATMENT)


_DEFAULT_TREATMENT: Final = Treatment()
_ADAPTER: Final = TypeAdapter(Policy)


# -- loading -----------------------------------------------------------------------------------


def load_policy(path: Traversable | None = None) -> Policy:
    """Read and check a policy file (a path, or a preset inside the package); None gives the
    `frequency` preset.

    Raises :class:`PolicyError` (one line: the file, the key, what is wrong).
    """
    if path is None:
        return load_preset(DEFAULT_PRESET)
    data = _read(path)
    name = data.pop("name", PurePath(path.name).stem)
    preset = data.pop("preset", None)
    if preset is not None:
        if not isinstance(preset, str) or preset not in PRESETS:
            choices = ", ".join(repr(p) for p in PRESETS[:-1]) + f" or {PRESETS[-1]!r}"
            raise PolicyError(f"{path}: preset must be {choices}, not {preset!r}")
        base = _read(preset_file(preset))
        base.pop("name", None)
        data = _extend(base, data)
    data["name"] = name
    return _build(path, data)


@cache
def load_preset(name: str) -> Policy:
    """One of the shipped presets (``frequency`` or ``value``)."""
    if name not in PRESETS:
        raise PolicyError(f"no preset {name!r} (presets: {', '.join(PRESETS)})")
    return load_policy(preset_file(name))


def preset_file(name: str) -> Traversable:
    """The shipped preset `name` (package data: a wheel carries it, whatever the working dir)."""
    return PRESETS_DIR / f"{name}.toml"


def _read(path: Traversable) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"{path}: does not exist") from None
    except IsADirectoryError:
        raise PolicyError(f"{path}: is a directory, not a policy file") from None
    except UnicodeDecodeError:
        raise PolicyError(f"{path}: is not UTF-8 text") from None
    except OSError as exc:
        raise PolicyError(f"{path}: cannot be read ({exc.strerror})") from None
    try:
        # Decimals, never floats: 0.1 stays exactly 0.1
        return tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyError(f"{path}: is not valid TOML: {_one_line(str(exc))}") from None


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and key != "perk":
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _extend(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` on top of a preset; the preset's names and treatments follow a new ladder."""
    override_tiers = override.get("tiers")
    if isinstance(override_tiers, dict) and "ladder" in override_tiers:
        keys = _ladder_keys(override_tiers["ladder"])
        ungraded = override_tiers.get("ungraded_tier", base.get("tiers", {}).get("ungraded_tier"))
        keys.add(ungraded)
        base = dict(base)
        base_tiers = dict(base.get("tiers", {}))
        if isinstance(base_tiers.get("names"), dict):
            base_tiers["names"] = {k: v for k, v in base_tiers["names"].items() if k in keys}
        base["tiers"] = base_tiers
        if isinstance(base.get("treatments"), dict):
            base["treatments"] = {k: v for k, v in base["treatments"].items() if k in keys}
    return _merge(base, override)


def _ladder_keys(ladder: Any) -> set[Any]:
    if not isinstance(ladder, list):
        return set()
    return {rung.get("name") for rung in ladder if isinstance(rung, dict)}


def _build(path: Traversable, data: dict[str, Any]) -> Policy:
    try:
        policy = _ADAPTER.validate_python(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise PolicyError(f"{path}: {_describe(errors[0])}{more}") from None
    problem = _check(policy)
    if problem is not None:
        raise PolicyError(f"{path}: {problem}")
    return policy


# -- rules across keys -------------------------------------------------------------------------

_SPEND_KEYS: Final = ("min_spend", "min_referrals", "min_suggestions")


def _check(policy: Policy) -> str | None:
    """The first rule that spans several keys and is broken, as "<key path> <what>"."""
    return (
        _check_ladder(policy.tiers)
        or _check_tier_keys(policy)
        or _check_other(policy)
        or _check_reminders(policy)
    )


def _check_reminders(policy: Policy) -> str | None:
    reminders, expire = policy.reminders, policy.points.expire_days
    if expire and reminders.points_expiring_days >= expire:
        return (
            f"reminders.points_expiring_days must be less than points.expire_days ({expire}), "
            f"not {reminders.points_expiring_days}: points would be announced as expiring "
            "as soon as they are earned"
        )
    if reminders.announce_multipliers and not any(
        rule.weekdays for rule in policy.points.multipliers
    ):
        return (
            "reminders.announce_multipliers is true, but no points.multipliers rule names "
            "weekdays: there is no day to announce"
        )
    return None


def _check_ladder(tiers: Tiers) -> str | None:
    seen: set[str] = set()
    for i, rung in enumerate(tiers.ladder):
        if rung.name in seen or rung.name == tiers.ungraded_tier:
            return f"tiers.ladder[{i}].name {rung.name!r} is used twice"
        seen.add(rung.name)
        if tiers.kind == "frequency":
            for key in _SPEND_KEYS:
                if getattr(rung, key):
                    return f'tiers.ladder[{i}].{key} is only used with tiers.kind = "value"'
    floor = tiers.ladder[0]
    if floor.min_visits > 1:
        return (
            f"tiers.ladder[0].min_visits must be 0 or 1, not {floor.min_visits}: "
            "the first rung is the floor every member stands on"
        )
    for key in _SPEND_KEYS:
        if getattr(floor, key):
            return (
                f"tiers.ladder[0].{key} must be 0, not {getattr(floor, key)}: "
                "the first rung is the floor every member stands on"
            )
    for i in range(1, len(tiers.ladder)):
        below, rung = tiers.ladder[i - 1], tiers.ladder[i]
        if tiers.kind == "frequency":
            if rung.min_visits <= below.min_visits:
                return (
                    f"tiers.ladder[{i}].min_visits must be greater than tiers.ladder[{i - 1}]'s "
                    f"({below.min_visits}), not {rung.min_visits}"
                )
            continue
        problem = _check_rung_order(i, below=below, rung=rung)
        if problem is not None:
            return problem
    if tiers.min_membership_days > 0 and tiers.ungraded_tier is None:
        return "tiers.ungraded_tier is missing: members younger than min_membership_days need one"
    if tiers.ungraded_tier is not None and tiers.min_membership_days == 0:
        return "tiers.ungraded_tier needs tiers.min_membership_days greater than 0"
    return None


def _check_rung_order(i: int, *, below: Rung, rung: Rung) -> str | None:
    """Rung i against the rung below, by what the two can be compared on: a threshold both set
    must not be lower on the higher rung (a key only one of them sets compares with nothing: an
    any-of rung A with no visit threshold above a B that asks 8 visits is fine), and the higher
    rung must not be the same as the one below."""
    asks = {f"min_{key}": minimum for key, minimum in rung.conditions()}
    asked_below = {f"min_{key}": minimum for key, minimum in below.conditions()}
    for key in ("min_visits", *_SPEND_KEYS):
        if key in asks and key in asked_below and asks[key] < asked_below[key]:
            return (
                f"tiers.ladder[{i}].{key} must not be less than tiers.ladder[{i - 1}]'s "
                f"({asked_below[key]}), not {asks[key]}"
            )
    if asks == asked_below and (rung.match == below.match or len(asks) < 2):
        return f"tiers.ladder[{i}] must ask for more than tiers.ladder[{i - 1}]"
    return None


def _check_tier_keys(policy: Policy) -> str | None:
    keys = policy.tiers.keys
    listed = ", ".join(keys)
    for key in keys:
        if key not in policy.tiers.names:
            return f"tiers.names.{key} is missing (en, zh_Hans and zh_Hant names for each tier)"
    for key in policy.tiers.names:
        if key not in keys:
            return f"tiers.names.{key} is not a tier{_did_you_mean(key, keys)} (tiers: {listed})"
    for key in policy.treatments:
        if key not in keys:
            return f"treatments.{key} is not a tier{_did_you_mean(key, keys)} (tiers: {listed})"
    for i, key in enumerate(policy.care.overdue_tiers or ()):
        if key not in keys:
            return (
                f"care.overdue_tiers[{i}] {key!r} is not a tier{_did_you_mean(key, keys)} "
                f"(tiers: {listed})"
            )
    return None


def _check_other(policy: Policy) -> str | None:
    lapse = policy.lapse
    if lapse.lapsed_factor <= lapse.slowing_factor:
        return (
            f"lapse.lapsed_factor must be greater than lapse.slowing_factor "
            f"({lapse.slowing_factor:g}), not {lapse.lapsed_factor:g}"
        )
    if lapse.lost_factor <= lapse.lapsed_factor:
        return (
            f"lapse.lost_factor must be greater than lapse.lapsed_factor "
            f"({lapse.lapsed_factor:g}), not {lapse.lost_factor:g}"
        )
    for key in ("birthday_coupon", "second_visit_coupon", "holiday_coupon"):
        name = getattr(policy.campaigns, key)
        if name is not None and name not in policy.coupons.templates:
            known = ", ".join(policy.coupons.templates) or "none"
            return (
                f"campaigns.{key} {name!r} is not a coupon template"
                f"{_did_you_mean(name, policy.coupons.templates)} (templates: {known})"
            )
    adopted = policy.feedback.adopted_coupon
    if adopted is not None and adopted not in policy.coupons.templates:
        known = ", ".join(policy.coupons.templates) or "none"
        return (
            f"feedback.adopted_coupon {adopted!r} is not a coupon template"
            f"{_did_you_mean(adopted, policy.coupons.templates)} (templates: {known})"
        )
    for i, offer in enumerate(policy.points.exchange):
        if offer.template not in policy.coupons.templates:
            known = ", ".join(policy.coupons.templates) or "none"
            return (
                f"points.exchange[{i}].template {offer.template!r} is not a coupon template"
                f"{_did_you_mean(offer.template, policy.coupons.templates)} (templates: {known})"
            )
    problem = _check_smaller(policy)
    if problem is not None:
        return problem
    strongest = Decimal(0)
    for i, step in enumerate(policy.ladder.steps):
        if step.coupon_value is None:
            continue
        if step.coupon_value < strongest:
            return (
                f"ladder.steps[{i}].coupon_value must not be less than an earlier step's "
                f"({strongest}): each coupon is at least as strong as the one before"
            )
        strongest = step.coupon_value
    return None


def _check_smaller(policy: Policy) -> str | None:
    """A "smaller" template exists and asks a lower minimum spend (so a chain always ends)."""
    templates = policy.coupons.templates
    known = ", ".join(templates) or "none"
    pairs: list[tuple[str, str | None, Decimal]] = [
        (f"coupons.templates.{key}.smaller", t.smaller, t.min_spend) for key, t in templates.items()
    ]
    pairs += [
        (f"ladder.steps[{i}].coupon_smaller", step.coupon_smaller, step.coupon_min_spend)
        for i, step in enumerate(policy.ladder.steps)
    ]
    for where, name, min_spend in pairs:
        if name is None:
            continue
        if name not in templates:
            return (
                f"{where} {name!r} is not a coupon template"
                f"{_did_you_mean(name, templates)} (templates: {known})"
            )
        if templates[name].min_spend >= min_spend:
            return (
                f"{where} {name!r} must ask a lower min_spend than {min_spend} "
                f"(it asks {templates[name].min_spend})"
            )
    return None


# -- error messages ----------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "the file"


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return str(value)
    return repr(value)


def _describe(error: Any) -> str:
    loc = tuple(error["loc"])
    where = _path(loc)
    kind = str(error["type"])
    ctx = error.get("ctx") or {}
    got = _show(error.get("input"))
    if kind in {"unexpected_keyword_argument", "extra_forbidden"}:
        key = str(loc[-1]) if loc else ""
        return f"{where} is not a known key{_did_you_mean(key, _known_keys(loc[:-1]))}"
    if kind == "missing":
        if loc == ("tiers",):
            return 'tiers is missing (give the tier ladder, or start from preset = "frequency")'
        return f"{where} is missing"
    if kind in {"int_type", "int_parsing", "int_from_float"}:
        return f"{where} must be a whole number, not {got}"
    if kind == "bool_type":
        return f"{where} must be true or false, not {got}"
    if kind in {"string_type", "str_type"}:
        return f"{where} must be text in quotes, not {got}"
    if kind in {"decimal_type", "decimal_parsing", "finite_number", "float_type"}:
        return f"{where} must be a number, not {got}"
    if kind in {"date_type", "date_parsing", "date_from_datetime_inexact"}:
        return f"{where} must be a date like 2026-02-17, not {got}"
    if kind in {"dataclass_type", "dataclass_args_type", "model_type", "dict_type"}:
        return f"{where} must be a table, not {got}"
    if kind in {"tuple_type", "list_type"}:
        return f"{where} must be a list, not {got}"
    if kind == "greater_than_equal":
        return f"{where} must be at least {ctx.get('ge')}, not {got}"
    if kind == "greater_than":
        return f"{where} must be greater than {ctx.get('gt')}, not {got}"
    if kind == "less_than_equal":
        return f"{where} must be at most {ctx.get('le')}, not {got}"
    if kind == "less_than":
        return f"{where} must be less than {ctx.get('lt')}, not {got}"
    if kind in {"too_short", "string_too_short"}:
        return f"{where} must not be empty"
    if kind in {"too_long", "string_too_long"}:
        return f"{where} is too long"
    if kind == "literal_error":
        return f"{where} must be {ctx.get('expected')}, not {got}"
    if kind == "value_error":
        return f"{where} {_one_line(str(ctx.get('error', error['msg'])))}"
    message = str(error["msg"]).replace("Input should be", "must be")
    return f"{where}: {_one_line(message)}"


def _did_you_mean(key: str, known: typing.Iterable[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, _UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            tp = args[0]
        else:
            return tp


_UnionType: Final = type(int | None)


def _known_keys(loc: tuple[int | str, ...]) -> list[str]:
    """The keys a table at `loc` may hold (for "did you mean"); [] when not a dataclass."""
    tp: Any = Policy
    for part in loc:
        tp = _unwrap(tp)
        origin = typing.get_origin(tp)
        if is_dataclass(tp) and isinstance(part, str):
            tp = typing.get_type_hints(tp, include_extras=True).get(part)
        elif origin is tuple:
            tp = typing.get_args(tp)[0]
        elif origin in (dict, Mapping):
            tp = typing.get_args(tp)[1]
        else:
            return []
        if tp is None:
            return []
    tp = _unwrap(tp)
    if not is_dataclass(tp):
        return []
    keys = [f.name for f in fields(tp)]
    return [*keys, "preset"] if tp is Policy else keys
