"""The policy file: presets load, overrides merge, and every mistake is one line naming the key."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from loyalty.policy import (
    PRESETS_DIR,
    Policy,
    PolicyError,
    load_policy,
    load_preset,
)
from tests.conftest import ROOT


def write(tmp_path: Path, text: str, name: str = "policy.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: "), message
    return message.removeprefix(f"{path}: ")


# -- presets -----------------------------------------------------------------------------------


def test_default_is_the_frequency_preset() -> None:
    policy = load_policy()
    assert policy == load_policy(PRESETS_DIR / "frequency.toml")
    assert policy.name == "frequency"
    assert policy.tiers.kind == "frequency"
    assert policy.tiers.window_days == 90
    assert [(r.name, r.min_visits) for r in policy.tiers.ladder] == [
        ("newcomer", 0),
        ("occasional", 2),
        ("regular", 4),
        ("loyal", 8),
    ]
    assert policy.tiers.keys == ("newcomer", "occasional", "regular", "loyal")
    assert policy.tiers.top == "loyal"
    assert policy.tiers.display_name("loyal", "zh_Hans") == "常客"
    assert policy.tiers.display_name("occasional", "zh_Hant") == "回頭客"
    assert policy.tiers.display_name("regular", "en") == "Regular"
    assert policy.tiers.ungraded_tier is None
    assert policy.tiers.min_membership_days == 0


def test_frequency_preset_values() -> None:
    policy = load_preset("frequency")
    assert policy.points.per_currency_unit == Decimal(1)
    assert policy.points.referral_bonus == 100
    assert policy.payments.receipt_claim_ttl_minutes == 120
    assert policy.payments.bill_ttl_minutes == 30
    assert policy.fraud.max_credited_payments_per_day == 3
    assert policy.fraud.min_minutes_between_visits == 30
    assert policy.fraud.cashier_self_credit is False
    assert policy.consent.mode == "opt-in"
    assert policy.lapse.lapsed_factor == 1.5
    assert policy.lapse.lost_factor == 4.0
    assert [s.message for s in policy.ladder.steps] == ["care", "coupon", "coupon"]
    assert [s.coupon_value for s in policy.ladder.steps] == [None, Decimal(20), Decimal(40)]
    assert policy.caps.max_marketing_per_week == 2
    assert str(policy.caps.quiet_hours) == "21:00-09:00"
    assert policy.treatment_for("loyal").winback == "care"
    assert policy.treatment_for("newcomer").second_visit == "coupon"


def test_value_preset() -> None:
    policy = load_preset("value")
    tiers = policy.tiers
    assert policy.name == "value"
    assert tiers.kind == "value"
    assert tiers.keys == ("potential", "C", "B", "A")
    assert tiers.ungraded_tier == "potential"
    assert 30 <= tiers.min_membership_days <= 92  # observe 1-3 months first
    a = tiers.rung("A")
    assert (a.min_visits, a.min_spend, a.min_referrals) == (6, Decimal(1500), 1)
    assert tiers.rung("B").min_spend == Decimal(600)
    assert tiers.display_name("A", "en") == "Gold"
    assert tiers.display_name("potential", "zh_Hans") == "新会员"
    assert policy.treatment_for("A").winback == "care"


def test_max_bill_per_currency() -> None:
    policy = load_policy()
    assert policy.max_bill_for("CNY") == Decimal(10000)
    assert policy.max_bill_for("JPY") == Decimal(500000)
    assert policy.max_bill_for("jpy") == Decimal(500000)
    assert policy.max_bill_for("USD") == Decimal(10000)


def test_points_are_whole_and_rounded_down(tmp_path: Path) -> None:
    assert load_policy().points.for_amount(Decimal("86.99")) == 86
    policy = load_policy(
        write(tmp_path, 'preset = "frequency"\n[points]\nper_currency_unit = 0.1\n')
    )
    assert policy.points.per_currency_unit == Decimal("0.1")  # exact: TOML floats are Decimals
    assert policy.points.for_amount(Decimal("86.50")) == 8
    assert policy.points.for_amount(Decimal("30")) == 3


def test_second_payment_inside_the_gap_is_the_same_visit() -> None:
    fraud = load_policy().fraud
    first = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    assert fraud.counts_as_new_visit(last_visit=None, at=first)
    assert not fraud.counts_as_new_visit(last_visit=first, at=first + timedelta(minutes=29))
    assert fraud.counts_as_new_visit(last_visit=first, at=first + timedelta(minutes=30))


def test_quiet_hours_wrap_past_midnight() -> None:
    quiet = load_policy().caps.quiet_hours
    assert quiet.contains(time(21, 0))
    assert quiet.contains(time(23, 59))
    assert quiet.contains(time(3, 0))
    assert not quiet.contains(time(9, 0))
    assert not quiet.contains(time(20, 59))


def test_holidays_fixed_and_yearly() -> None:
    holidays = load_policy().holidays
    on = [h.name.en for h in holidays if h.occurs_on(date(2026, 2, 17))]
    assert on == ["Lunar New Year"]
    assert [h.name.zh_Hant for h in holidays if h.occurs_on(date(2031, 12, 25))] == ["聖誕節"]


def test_policy_is_frozen() -> None:
    policy = load_policy()
    with pytest.raises(AttributeError):
        policy.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        policy.tiers.names["x"] = policy.tiers.names["loyal"]  # type: ignore[index]


# -- extending a preset ------------------------------------------------------------------------


def test_overrides_merge_over_a_preset(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
preset = "frequency"
name = "Noodle Bar"

[tiers]
window_days = 60

[caps]
quiet_hours = "22:30-08:00"

[payments.max_bill_by_currency]
HKD = 20000
""",
    )
    policy = load_policy(path)
    assert policy.name == "Noodle Bar"
    assert policy.tiers.window_days == 60
    # untouched keys of the same table come from the preset
    assert [r.min_visits for r in policy.tiers.ladder] == [0, 2, 4, 8]
    assert policy.tiers.display_name("loyal", "en") == "Loyal"
    assert str(policy.caps.quiet_hours) == "22:30-08:00"
    assert policy.caps.max_marketing_per_week == 2
    assert policy.max_bill_for("HKD") == Decimal(20000)
    assert policy.max_bill_for("JPY") == Decimal(500000)  # the preset's table merged, not replaced
    assert policy.fraud == load_policy().fraud


def test_name_defaults_to_the_file_stem(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, 'preset = "value"\n', name="harbour_view.toml"))
    assert policy.name == "harbour_view"
    assert policy.tiers.kind == "value"


def test_a_new_ladder_replaces_the_old_one_and_its_names(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
preset = "frequency"

[[tiers.ladder]]
name = "newcomer"

[[tiers.ladder]]
name = "vip"
min_visits = 5

[tiers.names.vip]
en = "VIP"
zh_Hans = "贵宾"
zh_Hant = "貴賓"

[treatments.vip]
winback = "care"
""",
    )
    policy = load_policy(path)
    assert policy.tiers.keys == ("newcomer", "vip")
    assert set(policy.tiers.names) == {"newcomer", "vip"}
    assert policy.tiers.display_name("newcomer", "zh_Hans") == "新客"  # kept from the preset
    assert set(policy.treatments) == {"newcomer", "vip"}
    assert policy.treatment_for("vip").winback == "care"
    assert policy.treatment_for("vip").birthday == "message"  # a default


def test_a_standalone_file_needs_only_tiers(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
[tiers]
ladder = [{ name = "guest" }, { name = "friend", min_visits = 3 }]

[tiers.names]
guest = { en = "Guest", zh_Hans = "客人", zh_Hant = "客人" }
friend = { en = "Friend", zh_Hans = "朋友", zh_Hant = "朋友" }
""",
    )
    policy = load_policy(path)
    assert isinstance(policy, Policy)
    assert policy.tiers.keys == ("guest", "friend")
    assert policy.fraud.min_minutes_between_visits == 30
    assert str(policy.caps.quiet_hours) == "21:00-09:00"
    assert policy.holidays == ()
    assert policy.treatment_for("friend").winback == "ladder"


# -- mistakes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "says"),
    [
        # unknown keys are typos
        (
            'preset = "frequency"\n[tiers]\nwindow_dayz = 60\n',
            "tiers.window_dayz is not a known key (did you mean 'window_days'?)",
        ),
        ('preset = "frequency"\n[pointz]\nx = 1\n', "pointz is not a known key"),
        (
            'preset = "frequency"\n[[tiers.ladder]]\nname = "newcomer"\nmin_visit = 1\n',
            "tiers.ladder[0].min_visit is not a known key (did you mean 'min_visits'?)",
        ),
        # wrong types
        (
            'preset = "frequency"\n[tiers]\nwindow_days = "ninety"\n',
            "tiers.window_days must be a whole number, not 'ninety'",
        ),
        (
            'preset = "frequency"\n[fraud]\nmax_credited_payments_per_day = 2.5\n',
            "fraud.max_credited_payments_per_day must be a whole number, not 2.5",
        ),
        (
            'preset = "frequency"\n[payments]\nmax_bill = true\n',
            "payments.max_bill must be a number, not true",
        ),
        (
            'preset = "frequency"\n[payments]\nmax_bill = nan\n',
            "payments.max_bill must be a number, not NaN",
        ),
        ('preset = "frequency"\ncaps = 5\n', "caps must be a table, not 5"),
        (
            'preset = "frequency"\n[consent]\nmode = "maybe"\n',
            "consent.mode must be 'opt-in' or 'opt-out', not 'maybe'",
        ),
        # negative and out-of-range numbers
        (
            'preset = "frequency"\n[fraud]\nmin_minutes_between_visits = -5\n',
            "fraud.min_minutes_between_visits must be at least 0, not -5",
        ),
        (
            'preset = "frequency"\n[points]\nper_currency_unit = -0.5\n',
            "points.per_currency_unit must be at least 0, not -0.5",
        ),
        (
            'preset = "frequency"\n[payments]\nmax_bill = 0\n',
            "payments.max_bill must be greater than 0, not 0",
        ),
        (
            'preset = "frequency"\n[tiers]\nwindow_days = 3\n',
            "tiers.window_days must be at least 7, not 3",
        ),
        # the ladder must climb
        (
            'preset = "frequency"\n'
            '[[tiers.ladder]]\nname = "newcomer"\n'
            '[[tiers.ladder]]\nname = "occasional"\nmin_visits = 2\n'
            '[[tiers.ladder]]\nname = "regular"\nmin_visits = 4\n'
            '[[tiers.ladder]]\nname = "loyal"\nmin_visits = 4\n',
            "tiers.ladder[3].min_visits must be greater than tiers.ladder[2]'s (4), not 4",
        ),
        (
            'preset = "value"\n'
            '[[tiers.ladder]]\nname = "C"\n'
            '[[tiers.ladder]]\nname = "B"\nmin_visits = 3\nmin_spend = 600\n'
            '[[tiers.ladder]]\nname = "A"\nmin_visits = 6\nmin_spend = 500\n',
            "tiers.ladder[2].min_spend must not be less than tiers.ladder[1]'s (600), not 500",
        ),
        (
            'preset = "frequency"\n[[tiers.ladder]]\nname = "newcomer"\nmin_visits = 2\n',
            "tiers.ladder[0].min_visits must be 0 or 1, not 2",
        ),
        (
            'preset = "frequency"\n[[tiers.ladder]]\nname = "newcomer"\n'
            '[[tiers.ladder]]\nname = "loyal"\nmin_visits = 3\nmin_spend = 100\n',
            'tiers.ladder[1].min_spend is only used with tiers.kind = "value"',
        ),
        (
            'preset = "frequency"\n[[tiers.ladder]]\nname = "newcomer"\n'
            '[[tiers.ladder]]\nname = "newcomer"\nmin_visits = 3\n',
            "tiers.ladder[1].name 'newcomer' is used twice",
        ),
        (
            'preset = "frequency"\n[[tiers.ladder]]\nname = "new comer"\n',
            "tiers.ladder[0].name must be letters, digits and _, starting with a letter",
        ),
        # tier names and treatments follow the ladder
        (
            'preset = "frequency"\n[tiers.names.loyl]\nen = "a"\nzh_Hans = "b"\nzh_Hant = "c"\n',
            "tiers.names.loyl is not a tier (did you mean 'loyal'?)",
        ),
        (
            '[tiers]\nladder = [{ name = "guest" }]\n[tiers.names.guest]\nzh_Hant = "客人"\n',
            "tiers.names.guest.en is missing",
        ),
        (
            'preset = "frequency"\n[[tiers.ladder]]\nname = "newcomer"\n'
            '[[tiers.ladder]]\nname = "vip"\nmin_visits = 5\n',
            "tiers.names.vip is missing",
        ),
        (
            'preset = "frequency"\n[treatments.gold]\nbirthday = "coupon"\n',
            "treatments.gold is not a tier",
        ),
        (
            'preset = "frequency"\n[treatments.loyal]\nwinback = "coupon"\n',
            "treatments.loyal.winback must be 'off', 'care' or 'ladder', not 'coupon'",
        ),
        # observation period
        (
            'preset = "value"\n[tiers]\nungraded_tier = "potential"\nmin_membership_days = 0\n',
            "tiers.ungraded_tier needs tiers.min_membership_days greater than 0",
        ),
        # quiet hours
        (
            'preset = "frequency"\n[caps]\nquiet_hours = "21:00-25:00"\n',
            'caps.quiet_hours must look like "21:00-09:00"',
        ),
        (
            'preset = "frequency"\n[caps]\nquiet_hours = "9pm-9am"\n',
            'caps.quiet_hours must look like "21:00-09:00"',
        ),
        (
            'preset = "frequency"\n[caps]\nquiet_hours = "21:00-21:00"\n',
            "caps.quiet_hours must not start and end at the same time",
        ),
        ('preset = "frequency"\n[caps]\nquiet_hours = 9\n', "caps.quiet_hours must be a string"),
        # fraud, lapse, win-back ladder, holidays, currencies
        (
            'preset = "frequency"\n[fraud]\ncashier_self_credit = true\n',
            "fraud.cashier_self_credit must be false",
        ),
        (
            'preset = "frequency"\n[lapse]\nlost_factor = 1.2\n',
            "lapse.lost_factor must be greater than lapse.lapsed_factor (1.5), not 1.2",
        ),
        (
            'preset = "frequency"\n[lapse]\nslowing_factor = 1.6\n',
            "lapse.lapsed_factor must be greater than lapse.slowing_factor (1.6), not 1.5",
        ),
        (
            'preset = "frequency"\n[lapse]\nrising_ratio = 1.2\n',
            "lapse.rising_ratio must be less than 1, not 1.2",
        ),
        (
            'preset = "frequency"\n[tiers]\ndowngrade = "loud"\n',
            "tiers.downgrade must be 'silent' or 'notify', not 'loud'",
        ),
        (
            'preset = "value"\n[[tiers.ladder]]\nname = "C"\n[[tiers.ladder]]\nname = "B"\n'
            'min_spend = 600\nmatch = "some"\n',
            "tiers.ladder[1].match must be 'all' or 'any', not 'some'",
        ),
        (
            'preset = "frequency"\n[[ladder.steps]]\nmessage = "coupon"\n',
            'ladder.steps[0] needs a coupon_value (it has message = "coupon")',
        ),
        (
            'preset = "frequency"\n[[ladder.steps]]\nmessage = "coupon"\ncoupon_value = 30\n'
            '[[ladder.steps]]\nmessage = "coupon"\ncoupon_value = 10\n',
            "ladder.steps[1].coupon_value must not be less than an earlier step's (30)",
        ),
        (
            'preset = "frequency"\n[[holidays]]\nmonth_day = "13-01"\n'
            'name = { en = "a", zh_Hans = "b", zh_Hant = "c" }\n',
            "holidays[0].month_day must look like \"12-25\" (MM-DD), not '13-01'",
        ),
        (
            'preset = "frequency"\n[[holidays]]\n'
            'name = { en = "a", zh_Hans = "b", zh_Hant = "c" }\n',
            "holidays[0] needs exactly one of date",
        ),
        (
            'preset = "frequency"\n[payments.max_bill_by_currency]\nXYZ = 5\n',
            "payments.max_bill_by_currency.XYZ must be an ISO 4217 currency code",
        ),
        # win-back that follows each diner (issue 16): each new key named on error
        (
            'preset = "frequency"\n[lapse]\nhalf_life_visits = 0\n',
            "lapse.half_life_visits must be greater than 0, not 0",
        ),
        (
            'preset = "frequency"\n[lapse]\ncooling_ratio = 0.9\n',
            "lapse.cooling_ratio must be greater than 1, not 0.9",
        ),
        (
            'preset = "frequency"\n[tiers]\ndowngrade_grace_days = -1\n',
            "tiers.downgrade_grace_days must be at least 0, not -1",
        ),
        (
            'preset = "frequency"\n[tiers]\ntreatment_lookback_days = "half a year"\n',
            "tiers.treatment_lookback_days must be a whole number, not 'half a year'",
        ),
        (
            'preset = "frequency"\n[tiers]\ncongratulate_once_days = 4000\n',
            "tiers.congratulate_once_days must be at most 3650, not 4000",
        ),
        (
            'preset = "frequency"\n[ladder]\nmax_unanswered_offers = 0\n',
            "ladder.max_unanswered_offers must be at least 1, not 0",
        ),
        (
            'preset = "frequency"\n[ladder]\noffer_answered_by = "opening"\n',
            "ladder.offer_answered_by must be 'redemption' or 'visit', not 'opening'",
        ),
        (
            'preset = "frequency"\n[ladder]\nvalidity_slack_days = 100\n',
            "ladder.validity_slack_days must be at most 90, not 100",
        ),
        (
            'preset = "frequency"\n[ladder]\nlost_keeps = ["birthday", "winback"]\n',
            "ladder.lost_keeps[1] must be 'birthday', 'holiday' or 'new_dish', not 'winback'",
        ),
        (
            'preset = "frequency"\n[campaigns]\non_cooling = "coupon"\n',
            "campaigns.on_cooling must be 'off' or 'care', not 'coupon'",
        ),
        (
            'preset = "frequency"\n[[ladder.steps]]\nmessage = "coupon"\ncoupon_value = 30\n'
            'coupon_min_spend = 100\ncoupon_adapt = "smaller"\n',
            'ladder.steps[0] needs coupon_smaller (a template key) for coupon_adapt = "smaller"',
        ),
        (
            'preset = "frequency"\n[[ladder.steps]]\nmessage = "coupon"\ncoupon_value = 30\n'
            'coupon_min_spend = 100\ncoupon_adapt = "smaller"\ncoupon_smaller = "ten_of"\n',
            "ladder.steps[0].coupon_smaller 'ten_of' is not a coupon template "
            "(did you mean 'ten_off'?)",
        ),
        (
            'preset = "frequency"\n[[ladder.steps]]\nmessage = "coupon"\ncoupon_value = 30\n'
            'coupon_min_spend = 100\ncoupon_adapt = "smaller"\ncoupon_smaller = "forty_off_150"\n',
            "ladder.steps[0].coupon_smaller 'forty_off_150' must ask a lower min_spend than 100",
        ),
        (
            'preset = "frequency"\n[coupons.templates.ten_off]\nsmaller = "ten_off"\n',
            "coupons.templates.ten_off.smaller 'ten_off' must ask a lower min_spend than 0",
        ),
        # the file itself
        ('preset = "fancy"\n', "preset must be 'frequency', 'value' or 'grades', not 'fancy'"),
        ("[points]\nper_currency_unit = 2\n", "tiers is missing"),
        ('preset = "frequency"\n[caps\n', "is not valid TOML: Expected ']'"),
        ('preset = "frequency"\nmax_bill = \n', "is not valid TOML"),
    ],
)
def test_each_mistake_names_the_key(tmp_path: Path, text: str, says: str) -> None:
    message = error_for(tmp_path, text)
    assert message.startswith(says), message


def test_more_mistakes_are_counted(tmp_path: Path) -> None:
    message = error_for(tmp_path, 'preset = "frequency"\n[tiers]\nwindow_dayz = 1\nkindd = 2\n')
    assert message.endswith("(and 1 more)")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"nope\.toml: does not exist$"):
        load_policy(tmp_path / "nope.toml")


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "café"\n'.encode("latin-1"))
    with pytest.raises(PolicyError, match="is not UTF-8 text"):
        load_policy(path)


# -- start-up ----------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            'preset = "frequency"\n'
            '[[tiers.ladder]]\nname = "newcomer"\n'
            '[[tiers.ladder]]\nname = "occasional"\nmin_visits = 2\n'
            '[[tiers.ladder]]\nname = "regular"\nmin_visits = 2\n',
            "tiers.ladder[2].min_visits must be greater than tiers.ladder[1]'s (2), not 2",
        ),
        ('preset = "frequency"\n[caps]\nquiet_hourz = "22:00-08:00"\n', "caps.quiet_hourz"),
        ('preset = "frequency"\n[caps\n', "is not valid TOML"),
    ],
)
def test_run_with_a_bad_policy_exits_2_with_one_line(
    tmp_path: Path, app_env: dict[str, str], text: str, says: str
) -> None:
    path = write(tmp_path, text)
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        env=app_env | {"POLICY_FILE": str(path)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"invalid setting POLICY_FILE: {path}: "), lines[0]
    assert says in lines[0]
