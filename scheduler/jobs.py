"""The jobs a deployment runs, in the order the sandbox runs them when its clock moves."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from loyalty import housekeeping
from scheduler import campaign_jobs, care_jobs, digest_jobs, feedback_jobs
from scheduler.broadcast_jobs import run_broadcasts
from scheduler.context import Job, JobContext
from scheduler.lifecycle_jobs import nightly_refresh, tier_notices
from scheduler.reminder_jobs import run_reminders
from scheduler.reservation_jobs import reservation_reminders


async def forget_old_updates(context: JobContext) -> dict[str, Any]:
    async with context.session_factory() as session, session.begin():
        removed = await housekeeping.forget_old_updates(session, now=context.clock.now())
    return {"removed": removed}


def default_jobs() -> list[Job]:
    # in this order when the sandbox clock moves: the refresh first (due dates), then campaigns
    return [
        Job(name="forget_old_updates", every=timedelta(hours=1), run=forget_old_updates),
        Job(name="nightly_refresh", every=timedelta(minutes=30), run=nightly_refresh),
        Job(name="tier_notices", every=timedelta(minutes=10), run=tier_notices),
        Job(name="birthdays", every=timedelta(minutes=30), run=campaign_jobs.birthdays),
        Job(name="second_visits", every=timedelta(minutes=30), run=campaign_jobs.second_visits),
        Job(name="winback", every=timedelta(minutes=30), run=campaign_jobs.winback),
        Job(name="turns", every=timedelta(minutes=30), run=campaign_jobs.turns),
        Job(name="holidays", every=timedelta(minutes=30), run=campaign_jobs.holidays),
        # after the campaigns: they keep their audiences, reminders take the cap's room left
        Job(name="reminders", every=timedelta(minutes=30), run=run_reminders),
        Job(name="reservation_reminders", every=timedelta(minutes=15), run=reservation_reminders),
        Job(name="broadcasts", every=timedelta(minutes=1), run=run_broadcasts),
        Job(name="new_dishes", every=timedelta(minutes=5), run=campaign_jobs.plan_new_dishes),
        Job(name="feedback", every=timedelta(minutes=15), run=feedback_jobs.feedback_requests),
        Job(name="care_lists", every=timedelta(minutes=15), run=care_jobs.care_lists),
        Job(name="weekly_digest", every=timedelta(minutes=30), run=digest_jobs.weekly_digest),
    ]
