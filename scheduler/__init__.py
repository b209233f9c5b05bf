"""The scheduler: APScheduler 3 runs each job on its interval; every job is written as
"process what is due as of now" (the injected clock), so running it again after the sandbox moves
the clock forward catches up on everything that became due meanwhile."""

from scheduler.context import Job, JobContext
from scheduler.core import Scheduler
from scheduler.jobs import default_jobs

__all__ = ["Job", "JobContext", "Scheduler", "default_jobs"]
