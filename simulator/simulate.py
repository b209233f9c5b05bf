"""`simulate(config) -> SimulationResult`: the run behind ``regulars simulate``, callable from code.

One run compares, on the same guests and the same random draws (common random numbers):
the given policy files (the shipped presets when none is given), the built-in fixed rule
(``simulator/policies/fixed_30_days.toml``: a coupon about 30 days after the last visit, for
everyone) and no marketing (``simulator/policies/no_marketing.toml``). Each policy runs on its own
fresh database, in its own process when ``workers`` > 1. Then the sensitivity runs: the same
policies with every response chance halved and doubled (no marketing needs no re-run: it sends
no marketing message, so the response chances never matter to it — checked, not assumed).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from loyalty.policy import PRESETS, load_policy, preset_file
from simulator.engine import Arm, ArmConfig, ArmResult, run_arm
from simulator.world import World, load_world

POLICIES: Traversable = resources.files("simulator").joinpath("policies")
FIXED_RULE = POLICIES.joinpath("fixed_30_days.toml")
NO_MARKETING = POLICIES.joinpath("no_marketing.toml")
SENSITIVITY_SCALES = (0.5, 2.0)


@dataclass(frozen=True, slots=True, kw_only=True)
class SimulationConfig:
    policies: tuple[Path | Traversable, ...] = ()
    """Policy files to compare; none: the shipped presets."""
    guests: int = 2000
    days: int = 365
    seed: int = 1
    world: World | None = None
    """None: simulator/world.toml."""
    response_scale: float = 1.0
    """Multiplies every response chance of the world (0: messages move nobody)."""
    sensitivity: bool = True
    sensitivity_guests: int | None = None
    """Guests in the sensitivity runs (None: as many as the main run)."""
    database_url: str | None = None
    """A database to run in (each policy in turn, tables dropped first); None: SQLite files in
    a temporary directory."""
    workers: int = 2
    progress: bool = False
    """A progress bar on stderr."""


@dataclass(slots=True, kw_only=True)
class SimulationResult:
    config: SimulationConfig
    world: World
    arms: list[ArmResult]
    """The policies, then the fixed rule, then no marketing (the baseline, last)."""
    sensitivity: dict[float, list[ArmResult]] = field(default_factory=dict)
    """Response scale → the arms at that scale, their own baseline last."""
    seconds: float = 0.0

    @property
    def baseline(self) -> ArmResult:
        return self.arms[-1]


def arms_for(policies: Sequence[Path | Traversable]) -> list[Arm]:
    files = list(policies) or [preset_file(name) for name in PRESETS]
    arms = [Arm(label=load_policy(f).name, policy_file=f) for f in files]
    arms.append(Arm(label="fixed 30 days", policy_file=FIXED_RULE))
    arms.append(Arm(label="no marketing", policy_file=NO_MARKETING))
    labels = [a.label for a in arms]
    for i, arm in enumerate(arms):  # two files with one policy name: tell them apart
        if labels.count(arm.label) > 1:
            arms[i] = replace(arm, label=f"{arm.label} ({i + 1})")
    return arms


SMALL_BASELINE = "small-baseline"


def simulate(config: SimulationConfig) -> SimulationResult:
    started = time.perf_counter()
    world = (config.world or load_world()).with_response_scale(config.response_scale)
    arms = arms_for(config.policies)
    workers = 1 if config.database_url is not None else max(1, config.workers)
    jobs: list[tuple[str, ArmConfig]] = []
    # SQLite files in memory-backed /dev/shm where there is one: the store's writes never wait
    # for a disk (WAL, synchronous=NORMAL: the same database, only faster storage)
    shm = Path("/dev/shm")
    where = str(shm) if shm.is_dir() else None
    with tempfile.TemporaryDirectory(prefix="regulars-simulate-", dir=where) as tmp:

        def add(key: str, arm: Arm, scale: float, guests: int) -> None:
            workdir = Path(tmp) / str(len(jobs))
            workdir.mkdir()
            scaled = world.with_response_scale(scale)
            jobs.append(
                (
                    key,
                    ArmConfig(
                        arm=arm,
                        world=scaled,
                        guests=guests,
                        days=config.days,
                        seed=config.seed,
                        workdir=workdir,
                        database_url=config.database_url,
                        response_scale=config.response_scale * scale,
                    ),
                )
            )

        for arm in arms:
            add("main", arm, 1.0, config.guests)
        if config.sensitivity:
            small = config.sensitivity_guests or config.guests
            for scale in SENSITIVITY_SCALES:
                for arm in arms[:-1]:
                    add(str(scale), arm, scale, small)
            if small != config.guests:
                # no marketing hears nothing, so it is the same run at every response scale
                add(SMALL_BASELINE, arms[-1], 1.0, small)
        results = _run_all(jobs, workers=workers, progress=config.progress)
    main = [r for (key, _), r in zip(jobs, results, strict=True) if key == "main"]
    result = SimulationResult(config=config, world=world, arms=main)
    for scale in SENSITIVITY_SCALES if config.sensitivity else ():
        these = [r for (key, _), r in zip(jobs, results, strict=True) if key == str(scale)]
        small_baseline = [
            r for (key, _), r in zip(jobs, results, strict=True) if key == SMALL_BASELINE
        ]
        # the baseline is the small run's, or the main run's when the sizes are the same
        these.append(_unmoved(small_baseline[0] if small_baseline else result.baseline))
        result.sensitivity[scale] = these
    result.seconds = time.perf_counter() - started
    return result


def _unmoved(baseline: ArmResult) -> ArmResult:
    if any(g.marketing for g in baseline.guests):
        raise RuntimeError("the no-marketing run sent marketing: its result depends on responses")
    return baseline


def _run_one(config: ArmConfig, queue: Any = None, key: int = 0) -> ArmResult:
    def progress(day: int) -> None:
        if queue is not None:
            queue.put((key, day))

    return asyncio.run(run_arm(config, progress))


class _Bar:
    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled = total, enabled
        self.done: dict[int, int] = {}
        self.started = time.perf_counter()
        self.drawn = -1

    def update(self, key: int, day: int) -> None:
        self.done[key] = day
        share = sum(self.done.values()) / self.total if self.total else 1.0
        filled = int(share * 30)
        if not self.enabled or filled == self.drawn:
            return
        self.drawn = filled
        elapsed = time.perf_counter() - self.started
        print(
            f"\rsimulating [{'#' * filled}{'.' * (30 - filled)}] {share:4.0%} {elapsed:5.0f} s",
            end="",
            file=sys.stderr,
            flush=True,
        )

    def close(self) -> None:
        if self.enabled:
            print(file=sys.stderr)


def _run_all(jobs: list[tuple[str, ArmConfig]], *, workers: int, progress: bool) -> list[ArmResult]:
    bar = _Bar(sum(c.days for _, c in jobs), progress)
    try:
        if workers == 1:
            return [_run_inline(config, i, bar.update) for i, (_, config) in enumerate(jobs)]
        return _run_pool(jobs, workers, bar)
    finally:
        bar.close()


def _run_inline(config: ArmConfig, key: int, update: Callable[[int, int], None]) -> ArmResult:
    return asyncio.run(run_arm(config, lambda day: update(key, day)))


def _run_pool(jobs: list[tuple[str, ArmConfig]], workers: int, bar: _Bar) -> list[ArmResult]:
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(workers, mp_context=context) as pool:
        queue = manager.Queue()
        futures: list[Future[ArmResult]] = [
            pool.submit(_run_one, config, queue, i) for i, (_, config) in enumerate(jobs)
        ]
        while not all(f.done() for f in futures):
            try:
                key, day = queue.get(timeout=0.5)
            except Exception:  # queue.Empty, from the manager's process
                continue
            bar.update(key, day)
        return [f.result() for f in futures]
