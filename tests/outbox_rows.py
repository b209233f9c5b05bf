"""Queue plain outbox messages for tests that send or claim them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty import outbox


async def queue_messages(
    factory: async_sessionmaker[AsyncSession],
    *,
    first: int,
    count: int,
    text: str,
    dedupe: str,
    now: datetime,
    earlier_by: timedelta = timedelta(0),
) -> None:
    """`count` messages to the chats `first`, `first` + 1, …; text and dedupe key carry the
    index (``{i}``). Message i is due `i` × `earlier_by` before `now` (the last queued is the
    longest waiting when `earlier_by` is set)."""
    async with factory() as session, session.begin():
        for i in range(count):
            await outbox.enqueue_one(
                session,
                telegram_id=first + i,
                text=text.format(i=i),
                dedupe=f"{dedupe}:{i}",
                now=now,
                at=now - i * earlier_by,
            )
