"""The run ledger: a day's run is claimed once; a failed run gives its day back; a run whose
process died is taken over after a while."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty import housekeeping
from tests.loyalty.conftest import OPENED

JOB, DAY = "nightly_refresh", "2026-11-23"


async def claim(
    factory: async_sessionmaker[AsyncSession], *, after: timedelta, stale: timedelta | None
) -> bool:
    async with factory() as session, session.begin():
        return await housekeeping.claim_run(
            session, job=JOB, period=DAY, now=OPENED + after, stale_after=stale
        )


async def test_a_run_is_claimed_once_released_on_failure_and_taken_over_when_stale(
    factory: async_sessionmaker[AsyncSession],
) -> None:
    hours = timedelta(hours=2)
    assert await claim(factory, after=timedelta(0), stale=hours)
    assert not await claim(factory, after=timedelta(minutes=5), stale=hours)  # still running
    assert not await claim(factory, after=timedelta(hours=3), stale=None)  # no takeover asked
    assert await claim(factory, after=timedelta(hours=3), stale=hours)  # its process died
    assert not await claim(factory, after=timedelta(hours=3, minutes=1), stale=hours)

    async with factory() as session, session.begin():  # the work failed: the day goes back
        await housekeeping.release_run(session, job=JOB, period=DAY)
    assert await claim(factory, after=timedelta(hours=4), stale=hours)

    async with factory() as session, session.begin():
        await housekeeping.finish_run(
            session, job=JOB, period=DAY, result="{}", now=OPENED + timedelta(hours=5)
        )
        await housekeeping.release_run(session, job=JOB, period=DAY)  # finished: stays
    assert not await claim(factory, after=timedelta(days=1), stale=hours)
