"""The sensitivity runs at a smaller size compare against a no-marketing run of that size."""

from __future__ import annotations

from loyalty.policy import preset_file
from simulator.simulate import SENSITIVITY_SCALES, SimulationConfig, simulate


def test_each_response_scale_is_compared_with_the_small_worlds_no_marketing() -> None:
    result = simulate(
        SimulationConfig(
            policies=(preset_file("frequency"),),
            guests=30,
            days=20,
            seed=5,
            sensitivity_guests=12,
            workers=1,
        )
    )

    for scale in SENSITIVITY_SCALES:
        arms = result.sensitivity[scale]
        assert [len(a.guests) for a in arms] == [12] * len(arms)
        baseline = arms[-1]
        assert baseline.label == result.baseline.label
        assert not any(g.marketing for g in baseline.guests)
