"""Routine upkeep the scheduler runs."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from models import queries

# Telegram keeps an undelivered update for 24 hours; a week of memory is ample.
PROCESSED_UPDATE_RETENTION = timedelta(days=7)


async def claim_update(
    session: AsyncSession, *, bot_id: int, update_id: int, now: datetime
) -> bool:
    """True the first time an update is seen; False for a redelivery (do nothing then)."""
    return await queries.insert_processed_update(
        session, bot_id=bot_id, update_id=update_id, now=now
    )


async def forget_old_updates(session: AsyncSession, *, now: datetime) -> int:
    return await queries.delete_processed_updates_before(
        session, before=now - PROCESSED_UPDATE_RETENTION
    )


async def claim_run(session: AsyncSession, *, job: str, period: str, now: datetime) -> bool:
    """True for the first run of `job` for `period`; False when it ran (or runs) already."""
    return await queries.insert_job_run(session, job=job, period=period, now=now)


async def finish_run(
    session: AsyncSession, *, job: str, period: str, result: str, now: datetime
) -> None:
    await queries.finish_job_run(session, job=job, period=period, result=result, now=now)
