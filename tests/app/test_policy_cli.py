"""`regulars policy check FILE` and `regulars policy show`, run as the command an owner types."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

import pytest

from loyalty.policy import load_policy, load_preset, preset_file
from tests.conftest import run_regulars


def regulars(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_regulars(env, "policy", *args)


@pytest.mark.parametrize("preset", ["frequency", "value", "grades"])
def test_check_accepts_the_shipped_presets(preset: str, app_env: dict[str, str]) -> None:
    result = regulars(app_env, "check", str(preset_file(preset)))
    assert result.returncode == 0, result.stderr
    assert f"ok (policy '{preset}'" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (
            'preset = "frequency"\n[fraud]\nmax_credited_payments_per_dya = 4\n',
            "fraud.max_credited_payments_per_dya is not a known key "
            "(did you mean 'max_credited_payments_per_day'?)",
        ),
        (
            'preset = "frequency"\n[caps]\nquiet_hours = "9pm-9am"\n',
            "caps.quiet_hours must look like",
        ),
        ('preset = "frequency"\n[fraud]\ncashier_self_credit = true\n', "must be false"),
        (
            'preset = "frequency"\n[ladder]\nmax_unanswered_offers = "two"\n',
            "ladder.max_unanswered_offers must be a whole number, not 'two'",
        ),
        (
            'preset = "value"\n[coupons.templates.forty_off_150]\nsmaller = "twenty_off"\n',
            "coupons.templates.forty_off_150.smaller 'twenty_off' is not a coupon template",
        ),
        ("this is not toml", "policy.toml"),
    ],
)
def test_check_refuses_a_bad_file_naming_the_key(
    text: str, says: str, tmp_path: Path, app_env: dict[str, str]
) -> None:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    result = regulars(app_env, "check", str(path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert says in result.stderr
    assert str(path) in result.stderr


def test_check_of_a_missing_file_exits_2(tmp_path: Path, app_env: dict[str, str]) -> None:
    result = regulars(app_env, "check", str(tmp_path / "nowhere.toml"))
    assert result.returncode == 2
    assert "nowhere.toml" in result.stderr


def test_show_prints_the_default_policy_as_toml_that_loads_back_the_same(
    tmp_path: Path, app_env: dict[str, str]
) -> None:
    env = {key: value for key, value in app_env.items() if key != "POLICY_FILE"}
    result = regulars(env, "show")
    assert result.returncode == 0, result.stderr
    shown = tomllib.loads(result.stdout)
    assert shown["name"] == "frequency"
    assert [rung["name"] for rung in shown["tiers"]["ladder"]] == [
        "newcomer",
        "occasional",
        "regular",
        "loyal",
    ]
    assert shown["tiers"]["names"]["occasional"]["zh_Hans"] == "回头客"
    assert shown["caps"]["quiet_hours"] == "21:00-09:00"
    copy = tmp_path / "copy.toml"
    copy.write_text(result.stdout, encoding="utf-8")
    assert regulars(env, "check", str(copy)).returncode == 0
    assert load_policy(copy) == load_preset("frequency")


def test_show_reflects_the_deployments_own_file(tmp_path: Path, app_env: dict[str, str]) -> None:
    own = tmp_path / "noodle-bar.toml"
    own.write_text(
        'preset = "value"\n'
        "[fraud]\nmax_credited_payments_per_day = 5\n"
        '[tiers.names.A]\nen = "Noodle VIP"\nzh_Hans = "面馆贵宾"\nzh_Hant = "麵館貴賓"\n',
        encoding="utf-8",
    )
    result = regulars(app_env | {"POLICY_FILE": str(own)}, "show")
    assert result.returncode == 0, result.stderr
    assert str(own) in result.stdout.splitlines()[0]
    shown = tomllib.loads(result.stdout)
    assert shown["name"] == "noodle-bar"
    assert shown["fraud"]["max_credited_payments_per_day"] == 5
    assert shown["tiers"]["names"]["A"]["zh_Hant"] == "麵館貴賓"
    assert shown["tiers"]["min_membership_days"] == 60  # from the value preset
    copy = tmp_path / "copy.toml"
    copy.write_text(result.stdout, encoding="utf-8")
    assert load_policy(copy) == load_policy(own)


def test_check_accepts_001s_any_of_ladder_and_refuses_a_contradictory_one(
    tmp_path: Path, app_env: dict[str, str]
) -> None:
    """Seed 001 as written: A asks no visits while B asks 8 a month — nothing to compare, fine;
    B asking more spend a month than A is a contradiction, named by its key."""
    ladder = (
        'preset = "value"\n[tiers]\nper = "month"\n'
        '[[tiers.ladder]]\nname = "C"\n'
        '[[tiers.ladder]]\nname = "B"\nmatch = "any"\nmin_spend = 5000\nmin_referrals = 20\n'
        "min_suggestions = 5\nmin_visits = 8\n"
        '[[tiers.ladder]]\nname = "A"\nmatch = "any"\nmin_spend = 8000\nmin_referrals = 50\n'
        "min_suggestions = 10\n"
    )
    good = tmp_path / "001.toml"
    good.write_text(ladder, encoding="utf-8")
    result = regulars(app_env, "check", str(good))
    assert result.returncode == 0, result.stderr
    bad = tmp_path / "contradictory.toml"
    bad.write_text(ladder.replace("min_spend = 5000", "min_spend = 9000"), encoding="utf-8")
    result = regulars(app_env, "check", str(bad))
    assert result.returncode == 2
    assert (
        "tiers.ladder[2].min_spend must not be less than tiers.ladder[1]'s (9000), not 8000"
        in result.stderr
    )
