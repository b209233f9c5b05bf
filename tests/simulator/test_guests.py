"""The guest kinds behave as world.toml says when nobody messages them (no database: the model
alone, over a long run), and the engine changes nothing about them when it sends nothing."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from simulator.engine import Arm, ArmConfig, run_arm
from simulator.guests import make_guests
from simulator.simulate import NO_MARKETING
from simulator.world import World, load_world


def _steady(world: World) -> World:
    """No churn, no drift, nobody gone after one visit: only the rhythm is left."""
    kinds = tuple(
        replace(k, annual_churn=0.0, drift_per_year=0.0, gone_after_first=0.0) for k in world.kinds
    )
    return replace(world, kinds=kinds, arrival_share=0.0)


def _visits(world: World, *, guests: int, days: int, seed: int = 1) -> dict[str, list[int]]:
    people = make_guests(world, count=guests, days=days, seed=seed)
    for day in range(days):
        for guest in people:
            if guest.visits_on(day):
                guest.visited(day)
    counts: dict[str, list[int]] = {}
    for guest in people:
        counts.setdefault(guest.kind.name, []).append(guest.visits)
    return counts


def test_each_kind_visits_at_its_rhythm_over_a_long_run() -> None:
    world = _steady(load_world())
    days = 3 * 365
    counts = _visits(world, guests=3000, days=days)
    for kind in world.kinds:
        expected = 1 + days / kind.gap_days  # the first visit, then one per mean gap
        observed = sum(counts[kind.name]) / len(counts[kind.name])
        assert observed == pytest.approx(expected, rel=0.06), kind.name


def test_kind_shares_follow_the_world() -> None:
    world = load_world()
    people = make_guests(world, count=4000, days=365, seed=3)
    for kind in world.kinds:
        share = sum(1 for g in people if g.kind.name == kind.name) / len(people)
        assert share == pytest.approx(kind.share, abs=0.025), kind.name


def test_churn_leaves_the_annual_share_gone_within_a_year() -> None:
    world = load_world()
    people = make_guests(world, count=4000, days=365, seed=5)
    for kind in world.kinds:
        mine = [g for g in people if g.kind.name == kind.name]
        gone = sum(1 for g in mine if g.churn_day - g.first_day < 365) / len(mine)
        assert gone == pytest.approx(kind.annual_churn, abs=0.06), kind.name


def test_drifting_guests_come_less_often_as_the_year_goes_on() -> None:
    world = load_world()
    drifting = next(k for k in world.kinds if k.name == "drifting")
    assert drifting.drift_per_year > 0
    steady = replace(drifting, share=1.0, annual_churn=0.0)
    world = replace(world, kinds=(steady,), arrival_share=0.0)
    people = make_guests(world, count=500, days=365, seed=2)
    first_half = second_half = 0
    for day in range(365):
        for guest in people:
            if guest.visits_on(day):
                guest.visited(day)
                if day < 182:
                    first_half += 1
                else:
                    second_half += 1
    assert second_half < 0.6 * first_half


def test_the_engine_sending_nothing_leaves_every_visit_where_the_model_put_it(
    tmp_path: Path,
) -> None:
    world = load_world()
    config = ArmConfig(
        arm=Arm(label="no marketing", policy_file=NO_MARKETING),
        world=world,
        guests=60,
        days=45,
        seed=4,
        workdir=tmp_path,
    )
    result = asyncio.run(run_arm(config))
    people = make_guests(world, count=60, days=45, seed=4)
    expected: list[list[int]] = [[] for _ in people]
    for day in range(45):
        for guest in people:
            if guest.visits_on(day):
                guest.visited(day)
                expected[guest.index].append(day)
    assert [g.visit_days for g in result.guests] == expected
    assert sum(g.marketing for g in result.guests) == 0
    assert result.jobs_failed == 0
