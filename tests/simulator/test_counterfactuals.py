"""Counterfactuals that must come out exactly: a policy that sends nothing costs nothing and
brings nothing; with response chances at zero, no policy brings visits beyond noise, and the
report says so."""

from __future__ import annotations

from loyalty.policy import PRESETS
from simulator.figures import figures
from simulator.report import render
from simulator.simulate import NO_MARKETING, SimulationConfig, simulate


def test_a_policy_that_sends_nothing_has_no_cost_and_no_incremental_visits() -> None:
    result = simulate(
        SimulationConfig(
            policies=(NO_MARKETING,), guests=50, days=50, seed=2, sensitivity=False, workers=1
        )
    )
    silent = figures(result.arms[0], result.baseline)
    assert silent.marketing_messages == 0
    assert silent.coupons_issued == 0
    assert silent.coupon_cost == 0
    assert silent.incremental_visits.total == 0
    assert silent.incremental_revenue.total == 0
    fixed = figures(result.arms[1], result.baseline)
    assert fixed.label == "fixed 30 days"
    assert fixed.coupons_issued > 0  # the same guests did get the fixed rule's coupons


def test_with_no_response_every_policy_is_within_noise_of_zero_and_the_report_says_so() -> None:
    result = simulate(
        SimulationConfig(
            guests=50, days=50, seed=3, response_scale=0.0, sensitivity=False, workers=1
        )
    )
    # every shipped preset, then the fixed rule and no marketing
    assert [a.label for a in result.arms] == [*PRESETS, "fixed 30 days", "no marketing"]
    for arm in result.arms[:-1]:
        f = figures(arm, result.baseline)
        assert f.marketing_messages > 0  # they did send
        assert f.incremental_visits.within_noise, arm.label
    report = render(result, command="regulars simulate")
    assert "Every policy's incremental visits are within noise of zero" in report
