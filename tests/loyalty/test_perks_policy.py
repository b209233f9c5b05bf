"""Standing perks in the policy (issue 17, part 4): what a perk takes off a bill, the value
preset's C grade as seed 001 writes it, and mistakes named by key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from loyalty.perks import perk_of
from loyalty.policy import PolicyError, load_policy, load_preset


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_seed_001_grade_c_gets_ten_percent_off_every_visit() -> None:
    policy = load_preset("value")
    perk = perk_of(policy, "C")
    assert perk is not None
    assert (perk.kind, perk.value, perk.cap) == ("percent", Decimal(10), Decimal(50))
    assert perk.discount(Decimal("86.50"), places=2) == Decimal("8.65")
    assert perk.discount(Decimal(900), places=2) == Decimal(50)  # the cap
    assert perk.discount(Decimal(865), places=0) == Decimal(50)
    assert perk.discount(Decimal(333), places=0) == Decimal(33)  # rounded down, whole yuan
    assert perk_of(policy, "B") is None  # 001 gives B and A other things
    assert perk_of(load_preset("frequency"), "loyal") is None


def test_a_free_drink_takes_its_price_off_but_never_the_whole_bill(tmp_path: Path) -> None:
    policy = load_policy(
        write(
            tmp_path,
            'preset = "frequency"\n[treatments.regular]\nperk = { kind = "item", value = 15, '
            'min_spend = 40, item = { en = "a drink", zh_Hans = "饮品一杯", '
            'zh_Hant = "飲品一杯" } }\n',
        )
    )
    perk = perk_of(policy, "regular")
    assert perk is not None
    assert perk.item is not None
    assert perk.item.get("zh_Hant") == "飲品一杯"
    assert perk.discount(Decimal(60), places=2) == Decimal(15)
    assert perk.discount(Decimal("39.99"), places=2) == Decimal(0)  # below its minimum
    assert policy.treatment_for("regular").birthday == "coupon"  # the rest of it merged


@pytest.mark.parametrize(
    ("perk", "says"),
    [
        ('{ kind = "percent", value = 110 }', "treatments.C.perk value must be at most 100"),
        ('{ kind = "item", value = 15 }', "treatments.C.perk needs an item"),
        (
            '{ kind = "item", value = 15, cap = 3, '
            'item = { en = "a", zh_Hans = "a", zh_Hant = "a" } }',
            "treatments.C.perk has a cap",
        ),
        ('{ kind = "beer", value = 15 }', "treatments.C.perk.kind must be"),
        ('{ kind = "percent", value = 10, caps = 5 }', "treatments.C.perk.caps is not a known key"),
    ],
)
def test_perk_mistakes_name_the_key(tmp_path: Path, perk: str, says: str) -> None:
    path = write(tmp_path, f'preset = "value"\n[treatments.C]\nperk = {perk}\n')
    with pytest.raises(PolicyError) as raised:
        load_policy(path)
    assert says in str(raised.value)
