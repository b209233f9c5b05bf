"""Members with realistic visit histories, written in bulk (for bench.lifecycle and later
benchmarks).

A restaurant's members are mostly people who came once. Per member, by share:

* 45 % passers-by: one visit;
* 25 % occasional guests: a visit every ~45 days;
* 15 % regulars: every ~14 days;
* 5 % loyal guests: every ~6 days;
* 10 % drifting away: came every ~12 days, stopped 30–150 days ago.

Gaps are drawn from a gamma distribution around each rhythm (shape 2: mostly near it, some much
longer), enrolments spread over the last year, each visit paid (a payment row linked to it).
Members come through a table QR (50 %), a receipt (25 %), the chat (10 %), a friend's link (10 %,
with the friend as referrer) or the cashier (5 %). The member rows carry the aggregates a
payment leaves (visit count, gaps, first return, spend, last visit); tier, expected interval and
due dates are left for the nightly refresh to compute.

Rows go in with SQLite's executemany on the file or PostgreSQL's COPY, a chunk of members at a
time, so generating a million members needs little memory.
"""

from __future__ import annotations

import itertools
import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from loyalty.channels import Channel
from loyalty.stores import ensure_default_store
from models.db import create_engine, create_session_factory
from models.migrate import upgrade

ARCHETYPES: tuple[tuple[str, float, float | None], ...] = (
    # (name, share, mean gap in days; None: one visit)
    ("passer_by", 0.45, None),
    ("occasional", 0.25, 45.0),
    ("regular", 0.15, 14.0),
    ("loyal", 0.05, 6.0),
    ("drifting", 0.10, 12.0),
)
CHANNELS: tuple[tuple[Channel, float], ...] = (
    (Channel.TABLE_QR, 0.50),
    (Channel.RECEIPT_CLAIM, 0.25),
    (Channel.CHAT, 0.10),
    (Channel.REFERRAL, 0.10),
    (Channel.CASHIER, 0.05),
)
CHUNK = 10_000
TELEGRAM_ID_BASE = 5_000_000_000
_SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"

USER_COLUMNS = ("id", "telegram_id", "language_code", "first_seen_at", "last_seen_at")
MEMBER_COLUMNS = (
    "id",
    "telegram_user_id",
    "store_id",
    "display_name",
    "acquisition_channel",
    "referrer_member_id",
    "enrolled_at",
    "tier",
    "visit_count",
    "total_spend",
    "points_balance",
    "first_visit_at",
    "last_visit_at",
    "gap_count",
    "gap_mean_days",
    "first_gap_days",
    "interval_floor_days",
    "rising",
    "marketing_consent",
    "gap_weighted_days",
    "turn",
    "cooling_due_at",
)
PAYMENT_COLUMNS = (
    "id",
    "source",
    "external_id",
    "store_id",
    "member_id",
    "amount",
    "currency",
    "status",
    "points_awarded",
    "referral_points",
    "visit_id",
    "created_at",
    "credited_at",
)
VISIT_COLUMNS = ("id", "member_id", "store_id", "payment_id", "at")


@dataclass(slots=True)
class Chunk:
    users: list[tuple[Any, ...]] = field(default_factory=list)
    members: list[tuple[Any, ...]] = field(default_factory=list)
    payments: list[tuple[Any, ...]] = field(default_factory=list)
    visits: list[tuple[Any, ...]] = field(default_factory=list)


def _pick(rng: random.Random, choices: tuple[tuple[Any, float], ...]) -> Any:
    roll, total = rng.random(), 0.0
    for value, share in choices:
        total += share
        if roll < total:
            return value
    return choices[-1][0]


def _visit_times(
    rng: random.Random, archetype: str, mean: float | None, now: datetime
) -> list[datetime]:
    enrolled = now - timedelta(days=rng.uniform(1, 365))
    if mean is None:
        return [enrolled]
    stop = now
    if archetype == "drifting":
        stop = now - timedelta(days=rng.uniform(30, 150))
    times = [enrolled]
    while True:
        gap = max(0.05, rng.gammavariate(2.0, mean / 2.0))
        at = times[-1] + timedelta(days=gap)
        if at >= stop:
            return times
        times.append(at)


def chunks(*, members: int, now: datetime, store_id: int, seed: int = 1) -> Iterator[Chunk]:
    """The rows for `members` members, a chunk of CHUNK members at a time (ids from 1)."""
    rng = random.Random(seed)
    payment_id = visit_id = 0
    chunk = Chunk()
    for member_id in range(1, members + 1):
        archetype = _pick(rng, tuple((a, a[1]) for a in ARCHETYPES))
        name, _, mean = archetype
        times = _visit_times(rng, name, mean, now)
        channel = _pick(rng, CHANNELS)
        referrer = None
        if channel is Channel.REFERRAL and member_id > 1:
            referrer = rng.randint(1, member_id - 1)
        spend = Decimal(0)
        for at in times:
            payment_id += 1
            visit_id += 1
            amount = Decimal(rng.randint(3000, 40000)) / 100
            spend += amount
            chunk.payments.append(
                (
                    payment_id,
                    "pos",
                    f"gen-{payment_id}",
                    store_id,
                    member_id,
                    amount,
                    "CNY",
                    "credited",
                    int(amount),
                    0,
                    visit_id,
                    at,
                    at,
                )
            )
            chunk.visits.append((visit_id, member_id, store_id, payment_id, at))
        gaps = [(b - a).total_seconds() / 86400 for a, b in itertools.pairwise(times)]
        mean_gap = Decimal(str(round(sum(gaps) / len(gaps), 3))) if gaps else Decimal(0)
        first_gap = Decimal(str(round(gaps[0], 3))) if gaps else None
        # the lifecycle's recency-weighted gap (half-life 2 visits) and turning point
        weights = [2 ** (-(len(gaps) - i) / 2) for i in range(1, len(gaps) + 1)]
        weighted = sum(w * g for w, g in zip(weights, gaps, strict=True))
        own_gap = Decimal(str(round(weighted / sum(weights), 3))) if gaps else Decimal(0)
        cooling = len(gaps) >= 2 and gaps[-1] > 1.25 * gaps[-2]
        cooling_due = (
            times[-1] + timedelta(days=1.25 * gaps[-1]) if len(gaps) >= 2 and not cooling else None
        )
        chunk.users.append(
            (
                member_id,
                TELEGRAM_ID_BASE + member_id,
                rng.choice(("en", "zh-hans", "zh-hant")),
                times[0],
                times[-1],
            )
        )
        chunk.members.append(
            (
                member_id,
                member_id,
                store_id,
                f"Guest {member_id}",
                channel.value,
                referrer,
                times[0],
                "newcomer",
                len(times),
                spend,
                int(spend),
                times[0],
                times[-1],
                len(gaps),
                mean_gap,
                first_gap,
                Decimal(0),
                False,
                rng.random() < 0.7,
                own_gap,
                "cooling" if cooling else "",
                cooling_due,
            )
        )
        if len(chunk.members) >= CHUNK:
            yield chunk
            chunk = Chunk()
    if chunk.members:
        yield chunk


async def _prepare(url: str, now: datetime) -> int:
    engine = create_engine(url)
    try:
        await upgrade(engine)
        async with create_session_factory(engine)() as session, session.begin():
            store = await ensure_default_store(
                session, name="Bench Bistro", timezone="Asia/Shanghai", currency="CNY", now=now
            )
        return store.id
    finally:
        await engine.dispose()


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).strftime(_SQLITE_TIME)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _money_columns(table: str) -> set[int]:
    names = {"member": ("total_spend",), "payment": ("amount",)}.get(table, ())
    columns = {"member": MEMBER_COLUMNS, "payment": PAYMENT_COLUMNS}.get(table, ())
    return {columns.index(n) for n in names}


def _to_sqlite(table: str, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    money = _money_columns(table)
    return [
        tuple(int(v.scaleb(4)) if i in money else _sqlite_value(v) for i, v in enumerate(row))
        for row in rows
    ]


def _to_postgres(table: str, rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    money = _money_columns(table)
    return [tuple(int(v.scaleb(4)) if i in money else v for i, v in enumerate(row)) for row in rows]


TABLES = (
    ("telegram_user", USER_COLUMNS, "users"),
    ("member", MEMBER_COLUMNS, "members"),
    ("payment", PAYMENT_COLUMNS, "payments"),
    ("visit", VISIT_COLUMNS, "visits"),
)


def _write_sqlite(path: str, *, members: int, now: datetime, store_id: int, seed: int) -> int:
    rows = 0
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA synchronous = OFF")
        for chunk in chunks(members=members, now=now, store_id=store_id, seed=seed):
            for table, columns, attr in TABLES:
                data = _to_sqlite(table, getattr(chunk, attr))
                marks = ", ".join("?" for _ in columns)
                db.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", data)
                rows += len(data)
            db.commit()
        db.execute("ANALYZE")
        db.commit()
    finally:
        db.close()
    return rows


async def _write_postgres(
    dsn: str, *, members: int, now: datetime, store_id: int, seed: int
) -> int:
    rows = 0
    conn = await asyncpg.connect(dsn)
    try:
        for chunk in chunks(members=members, now=now, store_id=store_id, seed=seed):
            async with conn.transaction():
                for table, columns, attr in TABLES:
                    data = _to_postgres(table, getattr(chunk, attr))
                    await conn.copy_records_to_table(table, records=data, columns=list(columns))
                    rows += len(data)
        for table, _, _ in TABLES:
            await conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return rows


async def generate(url: str, *, members: int, now: datetime, seed: int = 1) -> int:
    """Create the schema at `url` (empty) and fill it; returns the number of rows written."""
    store_id = await _prepare(url, now)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database is not None
        return _write_sqlite(
            parsed.database, members=members, now=now, store_id=store_id, seed=seed
        )
    dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    return await _write_postgres(dsn, members=members, now=now, store_id=store_id, seed=seed)
