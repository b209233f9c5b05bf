"""``regulars simulate``: the command line of the simulator (bot/cli.py adds it)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from loyalty.policy import PolicyError, load_policy
from simulator.report import write_report
from simulator.simulate import SimulationConfig, simulate
from simulator.world import WorldError, load_world

EXIT_CONFIG = 2


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "simulate",
        help="a year of simulated guests through the real engine: compare policies",
        description="Compare policy files, the fixed 30-day rule and no marketing on the same "
        "simulated guests; writes OUT/report.md and PNG charts.",
    )
    parser.add_argument(
        "--policy",
        type=Path,
        action="append",
        default=[],
        metavar="FILE",
        help="a policy file to compare (repeatable; default: the shipped presets)",
    )
    parser.add_argument("--guests", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True, metavar="DIR")
    parser.add_argument("--world", type=Path, help="a world file (default: simulator/world.toml)")
    parser.add_argument(
        "--database-url", help="run in this database (each policy in turn, its tables dropped)"
    )
    parser.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    parser.add_argument(
        "--sensitivity-guests",
        type=int,
        help="guests in the ×0.5/×2 sensitivity runs (default: as many as --guests)",
    )
    parser.add_argument("--no-sensitivity", action="store_true", help="skip the ×0.5/×2 runs")


def run(args: argparse.Namespace, argv: list[str]) -> int:
    try:
        for file in args.policy:
            load_policy(file)
        world = load_world(args.world) if args.world else load_world()
    except (PolicyError, WorldError) as exc:
        print(f"regulars simulate: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.guests < 1 or args.days < 2 or args.workers < 1:
        print("regulars simulate: --guests, --workers ≥ 1 and --days ≥ 2", file=sys.stderr)
        return EXIT_CONFIG
    config = SimulationConfig(
        policies=tuple(args.policy),
        guests=args.guests,
        days=args.days,
        seed=args.seed,
        world=world,
        sensitivity=not args.no_sensitivity,
        sensitivity_guests=args.sensitivity_guests,
        database_url=args.database_url,
        workers=args.workers,
        progress=True,
    )
    result = simulate(config)
    command = shlex.join(["regulars", *argv])
    path = write_report(result, args.out, command=command)
    print(f"{path} ({result.seconds:,.0f} s)")
    return 0
