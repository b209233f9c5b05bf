"""Benchmark: seconds of `regulars simulate` per 1,000 guest-years, on SQLite.

    python -m bench.simulate                          # 500 guests, 365 days, the frequency preset
    python -m bench.simulate --guests 2000 --days 365 --policy no_marketing

One policy, one process, a fresh SQLite file: the guests pay through record_payment, the
scheduler's jobs run once a simulated day, the outbox delivers into the in-process Telegram.
Prints the command, the wall time, the visits simulated and the seconds per 1,000 guest-years
(guests × days / 365 / 1,000), split into the time in the jobs, the visits and the delivery.
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import simulator.engine as engine
from loyalty.policy import PRESETS, preset_file
from simulator.simulate import FIXED_RULE, NO_MARKETING
from simulator.world import load_world

SPENT: defaultdict[str, float] = defaultdict(float)


def _timed(name: str) -> None:
    inner: Callable[..., Awaitable[Any]] = getattr(engine, name)

    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await inner(*args, **kwargs)
        finally:
            SPENT[name] += time.perf_counter() - started

    setattr(engine, name, wrapper)


def _policy(name: str) -> Any:
    if name in PRESETS:
        return preset_file(name)
    return {"fixed_30_days": FIXED_RULE, "no_marketing": NO_MARKETING}.get(name) or Path(name)


async def main(args: argparse.Namespace) -> None:
    for name in ("_jobs", "_visit", "_deliver"):
        _timed(name)
    with tempfile.TemporaryDirectory() as workdir:
        config = engine.ArmConfig(
            arm=engine.Arm(label=args.policy, policy_file=_policy(args.policy)),
            world=load_world(),
            guests=args.guests,
            days=args.days,
            seed=args.seed,
            workdir=Path(workdir),
        )
        result = await engine.run_arm(config)
    guest_years = args.guests * args.days / 365 / 1000
    visits = sum(len(g.visit_days) for g in result.guests)
    print("command: " + shlex.join(["python", "-m", "bench.simulate", *sys.argv[1:]]))
    print(
        f"RESULT guests={args.guests} days={args.days} policy={args.policy} "
        f"seconds={result.seconds:.1f} visits={visits} "
        f"marketing_delivered={sum(g.marketing for g in result.guests)} "
        f"s_per_1000_guest_years={result.seconds / guest_years:.0f} "
        f"jobs_s={SPENT['_jobs']:.1f} visits_s={SPENT['_visit']:.1f} "
        f"delivery_s={SPENT['_deliver']:.1f} ms_per_visit={1000 * SPENT['_visit'] / visits:.1f} "
        f"ms_jobs_per_day={1000 * SPENT['_jobs'] / args.days:.0f}"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.simulate", description=__doc__)
    parser.add_argument("--guests", type=int, default=500)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--policy",
        default="frequency",
        help="frequency, value, fixed_30_days, no_marketing or a file",
    )
    return parser


if __name__ == "__main__":
    asyncio.run(main(_parser().parse_args()))
