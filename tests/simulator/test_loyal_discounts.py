"""'Loyal guests discounted' counts discounts, never a birthday gift."""

from __future__ import annotations

from decimal import Decimal

from simulator.engine import ArmResult, GuestOutcome, tally
from simulator.figures import figures


def _arm(label: str, guests: list[GuestOutcome]) -> ArmResult:
    return ArmResult(label=label, policy_name=label, response_scale=1.0, guests=guests, seconds=0.0)


def _loyal(coupons_held: list[tuple[str, bool]]) -> GuestOutcome:
    outcome = GuestOutcome(kind="loyal", first_day=0, visit_days=[0, 7], paid=Decimal(40))
    tally(outcome, coupons_held)
    return outcome


def test_a_loyal_guest_with_only_a_birthday_gift_is_not_discounted() -> None:
    arm = _arm("frequency", [_loyal([("birthday", True)]), _loyal([])])
    base = _arm("none", [_loyal([]), _loyal([])])

    row = figures(arm, base)

    assert row.loyal_discounted == 0
    assert row.loyal_redeemed == 0
    assert row.loyal_birthday_gifts == 1
    assert row.coupons_issued == 1


def test_a_loyal_guest_sent_a_winback_or_second_visit_coupon_is_discounted() -> None:
    arm = _arm(
        "frequency",
        [
            _loyal([("birthday", False), ("winback_1", True)]),
            _loyal([("second_visit", False)]),
            _loyal([("points", True)]),  # a reward they earned, not a discount
        ],
    )
    base = _arm("none", [_loyal([]), _loyal([]), _loyal([])])

    row = figures(arm, base)

    assert row.loyal_discounted == 2
    assert row.loyal_redeemed == 1
    assert row.loyal_birthday_gifts == 1
