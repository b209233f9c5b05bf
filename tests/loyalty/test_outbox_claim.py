"""Claiming outbox rows: oldest first, leased, and never the same row to two claims at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty import outbox
from tests.loyalty.conftest import OPENED
from tests.outbox_rows import queue_messages

FIRST = 7_000_001


async def _queue(factory: async_sessionmaker[AsyncSession], count: int) -> None:
    # queued in reverse: the oldest due row has the highest id
    await queue_messages(
        factory,
        first=FIRST,
        count=count,
        text="message {i}",
        dedupe="claim-test",
        now=OPENED,
        earlier_by=timedelta(minutes=1),
    )


async def _claim(factory: async_sessionmaker[AsyncSession], limit: int) -> list[outbox.Claimed]:
    async with factory() as session, session.begin():
        return await outbox.claim(session, now=OPENED, limit=limit)


async def test_two_claims_at_once_share_the_due_rows_without_overlap(
    factory: async_sessionmaker[AsyncSession],
) -> None:
    await _queue(factory, 10)
    first, second = await asyncio.gather(_claim(factory, 5), _claim(factory, 5))
    ids = [row.id for row in first + second]
    assert len(first) == len(second) == 5
    assert len(set(ids)) == 10  # every due row, each once
    assert await _claim(factory, 5) == []  # all leased now


async def test_a_claim_takes_the_longest_waiting_rows_first_and_reads_them_back(
    factory: async_sessionmaker[AsyncSession],
) -> None:
    await _queue(factory, 6)
    claimed = await _claim(factory, 4)
    assert [row.telegram_id for row in claimed] == [FIRST + 5, FIRST + 4, FIRST + 3, FIRST + 2]
    assert [row.text for row in claimed] == ["message 5", "message 4", "message 3", "message 2"]
    assert all(row.attempts == 0 for row in claimed)
    async with factory() as session:
        counts = await outbox.counts_by_status(session)
    assert counts == {"sending": 4, "pending": 2}


async def test_a_claim_with_nothing_due_only_reads(
    factory: async_sessionmaker[AsyncSession],
) -> None:
    """An idle worker claims twice a second: with nothing due it must not write (on SQLite an
    UPDATE matching nothing still takes the write lock every other writer waits for)."""
    await queue_messages(factory, first=FIRST, count=3, text="later {i}", dedupe="idle", now=OPENED)
    statements: list[str] = []

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    engine = factory.kw["bind"].sync_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        async with factory() as session, session.begin():
            early = await outbox.claim(session, now=OPENED - timedelta(minutes=5), limit=10)
        assert early == []
        assert statements  # it did ask
        assert "UPDATE" not in statements
        statements.clear()
        assert len(await _claim(factory, 10)) == 3  # due now: claimed as before
        assert "UPDATE" in statements
    finally:
        event.remove(engine, "before_cursor_execute", seen)
