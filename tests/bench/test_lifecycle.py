"""The lifecycle benchmark's parts, run small on the database under test: the generated members
look like a restaurant's, the refresh child computes every rhythm, and the due window holds
exactly the members asked for. No timing is asserted."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from sqlalchemy import func, select
from sqlmodel import col

from bench import lifecycle
from bench.generate import generate
from models.db import create_engine, create_session_factory
from models.tables import Member, Payment, Visit


async def test_generated_members_and_the_benchmark_children(database_url: str) -> None:
    rows = await generate(database_url, members=3000, now=lifecycle.NOW, seed=5)
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            counts = Counter(
                (await session.execute(select(col(Member.visit_count)))).scalars().all()
            )
            visits = await session.scalar(select(func.count()).select_from(Visit))
            payments = await session.scalar(select(func.count()).select_from(Payment))
            spend = await session.scalar(select(func.sum(col(Member.total_spend))))
            paid = await session.scalar(select(func.sum(col(Payment.amount))))
    finally:
        await engine.dispose()
    members = sum(counts.values())
    assert members == 3000
    assert rows == 2 * members + 2 * int(visits or 0)
    assert visits == payments
    assert spend == paid  # the aggregates match the rows
    once = counts[1] / members
    assert 0.45 <= once <= 0.60  # passers-by, plus regulars who joined days ago
    assert max(counts) >= 20  # and some loyal guests
    assert isinstance(spend, Decimal)

    done = await lifecycle.child_refresh(database_url, when=lifecycle.NOW, batch_size=700)
    assert done["members"] == 3000
    assert done["batches"] == 5
    assert done["upgrades"] > 0
    due = await lifecycle.child_due(database_url, due=50)
    assert due["due"] == 50
    assert "lapsed_due" in due["plan"]  # the index, not a table scan
