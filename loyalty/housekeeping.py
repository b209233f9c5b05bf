"""Routine upkeep the scheduler runs."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import queries
from models.tables import JobRun

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


async def claim_run(
    session: AsyncSession,
    *,
    job: str,
    period: str,
    now: datetime,
    stale_after: timedelta | None = None,
) -> bool:
    """True for the first run of `job` for `period`; False when it ran (or runs) already.
    With `stale_after`: a run claimed that long ago and never finished (its process died) is
    taken over — for work that is idempotent and done outside the claim's transaction."""
    if await queries.insert_job_run(session, job=job, period=period, now=now):
        return True
    if stale_after is None:
        return False
    taken = await session.execute(
        update(JobRun)
        .where(
            col(JobRun.job) == job,
            col(JobRun.period) == period,
            col(JobRun.finished_at).is_(None),
            col(JobRun.started_at) < now - stale_after,
        )
        .values(started_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(taken.rowcount)  # type: ignore[attr-defined]


async def release_run(session: AsyncSession, *, job: str, period: str) -> None:
    """Give a claimed, unfinished run back (its work failed): the next tick tries again."""
    await session.execute(
        delete(JobRun).where(
            col(JobRun.job) == job,
            col(JobRun.period) == period,
            col(JobRun.finished_at).is_(None),
        )
    )


async def finish_run(
    session: AsyncSession, *, job: str, period: str, result: str, now: datetime
) -> None:
    await queries.finish_job_run(session, job=job, period=period, result=result, now=now)


async def run_finished(session: AsyncSession, *, job: str, period: str) -> bool:
    """Whether `job` has finished its run for `period` (for a job that reads its results)."""
    found = await session.scalar(
        select(col(JobRun.finished_at)).where(col(JobRun.job) == job, col(JobRun.period) == period)
    )
    return found is not None
