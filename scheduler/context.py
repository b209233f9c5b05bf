"""What a scheduled job is and what it is given: the clock, the database, the policy, the bot.

Its own module so that the job modules and the scheduler that runs them both import it, and
neither imports the other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiogram import Bot
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty.clock import Clock
from loyalty.policy import Policy


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
