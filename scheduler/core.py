"""Scheduler wiring (APScheduler 3, asyncio) around jobs that take the clock's "now"."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiogram import Bot
from aiogram.utils.i18n import I18n
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty import housekeeping
from loyalty.clock import Clock
from loyalty.policy import Policy
from scheduler.shared import LeaderLease

log = logging.getLogger(__name__)


@dataclass(slots=True, kw_only=True)
class JobContext:
    session_factory: async_sessionmaker[AsyncSession]
    clock: Clock
    policy: Policy
    timezone: str
    """The deployment's local time zone (the default store's): "nightly" and quiet hours."""
    i18n: I18n
    owner_ids: tuple[int, ...] = ()
    """The owners (OWNER_IDS): the care lists and the weekly digest reach them."""
    bot: Bot | None = None
    """Set once the bot exists; jobs that message members wait until then."""


JobFunc = Callable[[JobContext], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    every: timedelta
    run: JobFunc


@dataclass(slots=True)
class Scheduler:
    context: JobContext
    jobs: list[Job]
    leader: LeaderLease | None = None
    """With several processes (REDIS_URL): only the holder of the lease runs jobs."""
    _aps: AsyncIOScheduler | None = None
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _woken: set[asyncio.Task[dict[str, Any]]] = field(default_factory=set)

    def start(self) -> None:
        """Start the timers (needs a running event loop)."""
        self._aps = AsyncIOScheduler(timezone="UTC")
        for job in self.jobs:
            self._aps.add_job(
                self.run_job,
                "interval",
                seconds=job.every.total_seconds(),
                args=[job],
                id=job.name,
                coalesce=True,
                max_instances=1,
                # jobs catch up themselves (run ledger): a late timer is still worth running
                misfire_grace_time=6 * 3600,
            )
        self._aps.start()

    def shutdown(self) -> None:
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        self._aps = None

    async def run_job(self, job: Job) -> dict[str, Any]:
        if self.leader is not None and not await self.leader.held():
            return {"skipped": "another process leads"}
        lock = self._locks.setdefault(job.name, asyncio.Lock())
        async with lock:  # a timer firing while the clock moves must not run the job twice
            try:
                result = await job.run(self.context)
            except Exception:
                log.exception("scheduled job %s failed", job.name)
                return {"error": True}
        log.debug("job %s: %s", job.name, result)
        return result

    def wake(self, name: str) -> None:
        """Run one job now, in the background (a manager pressed "Send now")."""
        job = next((j for j in self.jobs if j.name == name), None)
        if job is not None:
            task = asyncio.get_running_loop().create_task(self.run_job(job))
            self._woken.add(task)
            task.add_done_callback(self._woken.discard)

    async def run_due(self) -> dict[str, dict[str, Any]]:
        """Run every job once as of the clock's now (after the sandbox moves the clock)."""
        return {job.name: await self.run_job(job) for job in self.jobs}


async def forget_old_updates(context: JobContext) -> dict[str, Any]:
    async with context.session_factory() as session, session.begin():
        removed = await housekeeping.forget_old_updates(session, now=context.clock.now())
    return {"removed": removed}


def default_jobs() -> list[Job]:
    from scheduler import campaign_jobs, care_jobs, digest_jobs, feedback_jobs
    from scheduler.broadcast_jobs import run_broadcasts
    from scheduler.lifecycle_jobs import nightly_refresh, tier_notices

    # in this order when the sandbox clock moves: the refresh first (due dates), then campaigns
    return [
        Job(name="forget_old_updates", every=timedelta(hours=1), run=forget_old_updates),
        Job(name="nightly_refresh", every=timedelta(minutes=30), run=nightly_refresh),
        Job(name="tier_notices", every=timedelta(minutes=10), run=tier_notices),
        Job(name="birthdays", every=timedelta(minutes=30), run=campaign_jobs.birthdays),
        Job(name="second_visits", every=timedelta(minutes=30), run=campaign_jobs.second_visits),
        Job(name="winback", every=timedelta(minutes=30), run=campaign_jobs.winback),
        Job(name="holidays", every=timedelta(minutes=30), run=campaign_jobs.holidays),
        Job(name="broadcasts", every=timedelta(minutes=1), run=run_broadcasts),
        Job(name="new_dishes", every=timedelta(minutes=5), run=campaign_jobs.plan_new_dishes),
        Job(name="feedback", every=timedelta(minutes=15), run=feedback_jobs.feedback_requests),
        Job(name="care_lists", every=timedelta(minutes=15), run=care_jobs.care_lists),
        Job(name="weekly_digest", every=timedelta(minutes=30), run=digest_jobs.weekly_digest),
    ]
