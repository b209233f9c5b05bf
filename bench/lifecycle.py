"""Benchmark: the nightly refresh and "who is due now?" at 100k and 1M members.

    python -m bench.lifecycle                      # 100k and 1M members, SQLite and PostgreSQL
    python -m bench.lifecycle --sizes 20000 --dbs sqlite

For each database and size, bench.generate fills a fresh database; then, each in its own process
(so its peak memory is its own):

* the refresh twice — "initial" computes every tier, norm and due date from nothing (a deployment
  upgrading to this version), "nightly" is a normal night (norms and due dates move, few tiers);
* the due query — members who became lapsed in a window holding exactly --due members (the same
  number at every size), timed over 30 runs.

It prints one RESULT line per measure, then the 1M ÷ 100k ratios: the due query must stay within
2× (an index range scan grows with the members due, not with all members), and the refresh's peak
memory must not grow with the members (it never loads them all).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlmodel import col

from bench.generate import generate
from bench.intake import reset_postgres
from loyalty import refresh
from loyalty.lifecycle import Stage
from loyalty.policy import load_preset
from models.db import create_engine, create_session_factory
from models.tables import Member
from models.types import UTCDateTime

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)  # 04:00 in Shanghai: after the night's start
PG_BENCH_DB = "regulars_bench_lifecycle"
DUE_RUNS = 30


def _peak_rss_mb() -> float:
    """This process's peak resident memory. VmHWM, not getrusage's ru_maxrss: Linux carries
    ru_maxrss over from the parent through fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def child_refresh(url: str, *, when: datetime, batch_size: int) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        factory = create_session_factory(engine)
        async with factory() as session:  # connect first: not part of the measure
            await session.execute(text("SELECT 1"))
        rss_before = _peak_rss_mb()
        started = time.perf_counter()
        result = await refresh.nightly_refresh(
            factory, policy=load_preset("frequency"), now=when, batch_size=batch_size
        )
        seconds = time.perf_counter() - started
    finally:
        await engine.dispose()
    return {
        "seconds": seconds,
        "peak_rss_mb": _peak_rss_mb(),
        "rss_before_mb": rss_before,
        **result.as_dict(),
    }


async def child_due(url: str, *, due: int) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        factory = create_session_factory(engine)
        async with factory() as session:
            lapsed = col(Member.lapsed_due_at)
            since = await session.scalar(  # the window that holds exactly `due` members
                select(lapsed).where(lapsed <= NOW).order_by(lapsed.desc()).offset(due).limit(1)
            )
            assert since is not None, "fewer members due than asked for"
            times, found = [], 0
            for _ in range(DUE_RUNS):
                started = time.perf_counter()
                ids = await refresh.due_members(
                    session, stage=Stage.LAPSED, since=since, until=NOW, limit=due + 100
                )
                times.append((time.perf_counter() - started) * 1000)
                found = len(ids)
            plan = await _plan(session, url, since=since)
    finally:
        await engine.dispose()
    return {
        "due": found,
        "median_ms": statistics.median(times),
        "p95_ms": sorted(times)[int(0.95 * (len(times) - 1))],
        "plan": plan,
        "peak_rss_mb": _peak_rss_mb(),
    }


async def _plan(session: Any, url: str, *, since: datetime) -> str:
    """The database's plan for the due query: it must be a range scan of the due-date index."""
    prefix = "EXPLAIN QUERY PLAN " if url.startswith("sqlite") else "EXPLAIN "
    query = text(
        prefix + "SELECT id FROM member WHERE lapsed_due_at > :since AND lapsed_due_at <= :now "
        "AND erased_at IS NULL ORDER BY lapsed_due_at, id"
    ).bindparams(
        bindparam("since", since, type_=UTCDateTime()), bindparam("now", NOW, type_=UTCDateTime())
    )
    rows = (await session.execute(query)).all()
    return " | ".join(str(row[-1]).strip() for row in rows)


def _run_child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.lifecycle", "--child", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _result(**fields: Any) -> str:
    def show(value: Any) -> str:
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    return "RESULT bench=lifecycle " + " ".join(f"{k}={show(v)}" for k, v in fields.items())


async def measure(db: str, members: int, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    if db == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / f'lifecycle-{members}.sqlite3'}"
    else:
        url = await reset_postgres(PG_BENCH_DB)
    started = time.perf_counter()
    rows = await generate(url, members=members, now=NOW, seed=args.seed)
    print(
        _result(
            db=db,
            members=members,
            measure="generate",
            seconds=time.perf_counter() - started,
            rows=rows,
        ),
        flush=True,
    )
    figures: dict[str, Any] = {}
    for name, when in (("refresh_initial", NOW), ("refresh_nightly", NOW + timedelta(days=1))):
        got = _run_child(
            "refresh", "--url", url, "--at", when.isoformat(), "--batch-size", str(args.batch_size)
        )
        figures[name] = got
        print(
            _result(
                db=db,
                members=members,
                measure=name,
                seconds=got["seconds"],
                peak_rss_mb=got["peak_rss_mb"],
                rss_before_mb=got["rss_before_mb"],
                batches=got["batches"],
                upgrades=got["upgrades"],
                downgrades=got["downgrades"],
            ),
            flush=True,
        )
    due = _run_child("due", "--url", url, "--due", str(args.due))
    figures["due"] = due
    print(
        _result(
            db=db,
            members=members,
            measure="due_query",
            due=due["due"],
            median_ms=due["median_ms"],
            p95_ms=due["p95_ms"],
        ),
        flush=True,
    )
    print(f"  plan ({db}, {members}): {due['plan']}", flush=True)
    return figures


async def main(args: argparse.Namespace) -> None:
    print(f"command: {shlex.join([sys.executable, '-m', 'bench.lifecycle', *sys.argv[1:]])}")
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="regulars-lifecycle-") as tmp:
        for db in args.dbs.split(","):
            results = {n: await measure(db, n, args, Path(tmp)) for n in sizes}
            small, large = min(sizes), max(sizes)
            if small == large:
                continue
            due_ratio = results[large]["due"]["median_ms"] / results[small]["due"]["median_ms"]
            rss_ratio = max(
                results[large][name]["peak_rss_mb"]
                for name in ("refresh_initial", "refresh_nightly")
            ) / max(
                results[small][name]["peak_rss_mb"]
                for name in ("refresh_initial", "refresh_nightly")
            )
            time_ratio = (
                results[large]["refresh_nightly"]["seconds"]
                / results[small]["refresh_nightly"]["seconds"]
            )
            label = f"{large}/{small}"
            print(
                _result(
                    db=db,
                    measure="due_query_ratio",
                    sizes=label,
                    ratio=due_ratio,
                    target="<=2",
                    met=due_ratio <= 2,
                ),
                flush=True,
            )
            print(
                _result(db=db, measure="refresh_peak_rss_ratio", sizes=label, ratio=rss_ratio),
                flush=True,
            )
            print(
                _result(db=db, measure="refresh_time_ratio", sizes=label, ratio=time_ratio),
                flush=True,
            )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.lifecycle", description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--dbs", default="sqlite,postgresql")
    parser.add_argument("--due", type=int, default=1000, help="members due in the window")
    parser.add_argument("--batch-size", type=int, default=refresh.DEFAULT_BATCH)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--child", choices=["refresh", "due"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--at", help=argparse.SUPPRESS)
    return parser


if __name__ == "__main__":
    arguments = _parser().parse_args()
    if arguments.child == "refresh":
        out = asyncio.run(
            child_refresh(
                arguments.url,
                when=datetime.fromisoformat(arguments.at),
                batch_size=arguments.batch_size,
            )
        )
        print(json.dumps(out))
    elif arguments.child == "due":
        print(json.dumps(asyncio.run(child_due(arguments.url, due=arguments.due))))
    else:
        asyncio.run(main(arguments))
