"""The same seed gives the same report: same guests, same draws, same engine."""

from __future__ import annotations

from loyalty.policy import preset_file
from simulator.report import render
from simulator.simulate import SimulationConfig, SimulationResult, simulate


def _report(seed: int) -> str:
    result: SimulationResult = simulate(
        SimulationConfig(
            policies=(preset_file("frequency"),),
            guests=40,
            days=40,
            seed=seed,
            sensitivity=False,
            workers=1,
        )
    )
    result.seconds = 0.0  # the one figure a run cannot repeat: how long it took
    for arm in result.arms:
        arm.seconds = 0.0
    return render(result, command="regulars simulate --guests 40 --days 40")


def test_the_same_seed_gives_the_same_report() -> None:
    first = _report(7)
    assert "| frequency |" in first
    assert _report(7) == first
