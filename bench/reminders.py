"""Benchmark: the daily reminders' finders (loyalty.reminders) at 100k members.

    python -m bench.reminders                    # 100,000 members, SQLite
    python -m bench.reminders --members 20000

bench.generate fills a fresh SQLite database (a year of realistic visit histories); every paid
visit then earns its points (one ledger row per payment, as a payment writes it) and one member in
ten holds a coupon that runs out within a fortnight; the nightly refresh sets tiers and due
dates. Then each finder runs once as of the refresh's morning, under the frequency preset with
points that expire after a year, and prints how long it took, how many reminders it found and
the process's peak memory. The finders run once a day, so what matters is that none takes long
enough to hold the day's other jobs back, and that none loads every member.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from bench.generate import generate
from bench.lifecycle import _peak_rss_mb
from loyalty import refresh, reminders
from loyalty.policy import Policy, load_policy
from loyalty.reminders import Reminder
from models.db import create_engine, create_session_factory

NOW = datetime(2026, 11, 23, 20, 0, tzinfo=UTC)  # 04:00 in Shanghai: after the night's refresh
ZONE = "Asia/Shanghai"
POLICY = 'preset = "frequency"\n[points]\nexpire_days = 365\n'

_POINTS = """
INSERT INTO points_ledger (member_id, delta, reason, payment_id, at)
SELECT member_id, amount / 10000, 'payment', id, created_at FROM payment
WHERE member_id IS NOT NULL
"""
_BALANCES = """
UPDATE member SET points_balance = (
    SELECT coalesce(sum(delta), 0) FROM points_ledger WHERE points_ledger.member_id = member.id
)
"""
_COUPONS = """
INSERT INTO coupon (code, member_id, store_id, template, kind, value, min_spend, currency,
                    issued_at, valid_until, status)
SELECT 'B' || id, id, store_id, 'ten_off', 'amount', 100000, 0, 'CNY',
       :issued, strftime('%Y-%m-%d %H:%M:%S.000000', :now, '+' || (id % 14) || ' days'),
       'active'
FROM member WHERE id % 10 = 0
"""


async def _prepare(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(_POINTS))
            await conn.execute(text(_BALANCES))
            await conn.execute(
                text(_COUPONS),
                {
                    "issued": (NOW - timedelta(days=20)).strftime("%Y-%m-%d %H:%M:%S.000000"),
                    "now": NOW.strftime("%Y-%m-%d %H:%M:%S"),
                },
            )
        factory = create_session_factory(engine)
        await refresh.nightly_refresh(factory, policy=_policy(), now=NOW)
    finally:
        await engine.dispose()


def _policy() -> Policy:
    file = Path(tempfile.gettempdir()) / "bench-reminders.toml"
    file.write_text(POLICY, encoding="utf-8")
    return load_policy(file)


async def _measure(url: str) -> None:
    policy = _policy()
    engine = create_engine(url)
    factory = create_session_factory(engine)
    today = NOW.astimezone(ZoneInfo(ZONE)).date()
    days = policy.reminders.points_expiring_days
    coming = [today + timedelta(days=i) for i in range(1, days + 1)]
    refreshes = [(d, datetime.combine(d, clock_time(3), tzinfo=ZoneInfo(ZONE))) for d in coming]

    async def coupon_expiring(s: AsyncSession) -> list[Reminder]:
        return await reminders.coupons_expiring(
            s, policy=policy, now=NOW, today=today, timezone=ZONE
        )

    async def points_expiring(s: AsyncSession) -> list[Reminder]:
        return await reminders.points_expiring(s, policy=policy, today=today, refreshes=refreshes)

    async def keep_tier(s: AsyncSession) -> list[Reminder]:
        return await reminders.keep_tier(s, policy=policy, now=NOW, timezone=ZONE)

    async def near_reward(s: AsyncSession) -> list[Reminder]:
        return await reminders.near_rewards(s, policy=policy, now=NOW, timezone=ZONE)

    async def anniversary(s: AsyncSession) -> list[Reminder]:
        return await reminders.anniversaries(s, policy=policy, today=today, timezone=ZONE)

    finders: dict[str, Callable[[AsyncSession], Awaitable[list[Reminder]]]] = {
        "coupon_expiring": coupon_expiring,
        "points_expiring": points_expiring,
        "keep_tier": keep_tier,
        "near_reward": near_reward,
        "anniversary": anniversary,
    }
    try:
        for name, find in finders.items():
            async with factory() as session:
                await session.execute(text("SELECT 1"))
                started = time.perf_counter()
                found = await find(session)
                seconds = time.perf_counter() - started
            print(
                f"RESULT finder={name} seconds={seconds:.3f} found={len(found)} "
                f"peak_rss_mb={_peak_rss_mb():.0f}",
                flush=True,
            )
    finally:
        await engine.dispose()


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as workdir:
        url = f"sqlite+aiosqlite:///{Path(workdir) / 'reminders.sqlite3'}"
        started = time.perf_counter()
        rows = await generate(url, members=args.members, now=NOW, seed=args.seed)
        await _prepare(url)
        print(
            f"prepared {args.members} members ({rows} rows, points, coupons, refresh) in "
            f"{time.perf_counter() - started:.0f} s; today is {date.isoformat(NOW.date())}",
            flush=True,
        )
        await _measure(url)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.reminders", description=__doc__)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    return parser


if __name__ == "__main__":
    asyncio.run(main(_parser().parse_args()))
