"""Scheduler wiring (APScheduler 3, asyncio) around jobs that take the clock's "now"."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from scheduler.context import Job, JobContext
from scheduler.shared import LeaderLease

log = logging.getLogger(__name__)


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
