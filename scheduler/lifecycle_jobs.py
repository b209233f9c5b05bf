"""Jobs of the lifecycle engine: the nightly refresh and telling members of tier changes."""

from __future__ import annotations

import json
import logging
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.exceptions import TelegramAPIError, TelegramForbiddenError

from loyalty import housekeeping, points, refresh, telegram_users
from scheduler.context import JobContext
from ui.locales import locale_from_language_code
from ui.texts import tier_down_text, tier_up_text

log = logging.getLogger(__name__)

REFRESH_AT = time(3, 0)
"""Local time after which the day's refresh runs (quiet for the restaurant, before the morning
messages that read the due dates)."""


STALE_RUN = timedelta(hours=2)
"""A refresh claimed this long ago and never finished died with its process: run it again."""


def refresh_period(now: datetime, timezone: str) -> str | None:
    """The local date whose refresh is due at `now`, or None before REFRESH_AT."""
    local = now.astimezone(ZoneInfo(timezone))
    return local.date().isoformat() if local.time() >= REFRESH_AT else None


async def nightly_refresh(context: JobContext) -> dict[str, Any]:
    """Once per local day from 03:00: cohort norms, tiers, expected intervals, due dates, and
    points that expire (policy points.expire_days).

    The run ledger makes a restart, a late timer or two replicas harmless; after downtime the
    next tick catches up (the day's refresh simply runs later)."""
    now = context.clock.now()
    period = refresh_period(now, context.timezone)
    if period is None:
        return {"waiting_until": REFRESH_AT.isoformat()}
    async with context.session_factory() as session, session.begin():
        claimed = await housekeeping.claim_run(
            session, job="nightly_refresh", period=period, now=now, stale_after=STALE_RUN
        )
    if not claimed:
        return {"period": period, "ran": False}
    try:  # batches commit as they go (idempotent); a failure gives the day back
        result = await refresh.nightly_refresh(
            context.session_factory, policy=context.policy, now=now
        )
        async with context.session_factory() as session, session.begin():
            expired = await points.expire_points(session, policy=context.policy, now=now)
    except BaseException:
        async with context.session_factory() as session, session.begin():
            await housekeeping.release_run(session, job="nightly_refresh", period=period)
        raise
    figures = {**result.as_dict(), "points_expired_members": expired}
    async with context.session_factory() as session, session.begin():
        await housekeeping.finish_run(
            session,
            job="nightly_refresh",
            period=period,
            result=json.dumps(figures),
            now=context.clock.now(),
        )
    log.info("nightly refresh %s: %s", period, figures)
    return {"period": period, "ran": True, **figures}


async def tier_notices(context: JobContext) -> dict[str, Any]:
    """Congratulate upgrades the nightly refresh made (and tell downgrades when the policy says
    so), outside quiet hours. Each change is claimed before it is sent: told once at most."""
    bot = context.bot
    now = context.clock.now()
    if bot is None:
        return {"sent": 0, "waiting": "bot"}
    if context.policy.caps.quiet_hours.contains(now.astimezone(ZoneInfo(context.timezone)).time()):
        return {"sent": 0, "quiet": True}
    async with context.session_factory() as session, session.begin():
        notices = await refresh.claim_tier_notices(session, now=now)
    sent = failed = 0
    policy = context.policy
    for notice in notices:  # the transaction is over: no lock held across Telegram calls
        locale = notice.locale or locale_from_language_code(
            notice.language_code, context.i18n.default_locale
        )
        with context.i18n.context(), context.i18n.use_locale(locale):
            if notice.direction == "up":
                text = tier_up_text(
                    policy, before=notice.from_tier, after=notice.to_tier, locale=locale
                )
            else:
                text = tier_down_text(policy, after=notice.to_tier, locale=locale)
        try:
            await bot.send_message(notice.telegram_id, text)
            sent += 1
        except TelegramForbiddenError:
            failed += 1
            async with context.session_factory() as session, session.begin():
                await telegram_users.mark_blocked(
                    session, telegram_id=notice.telegram_id, blocked=True, now=now
                )
        except TelegramAPIError as exc:
            failed += 1
            log.warning("tier notice %s not delivered: %s", notice.change_id, exc)
    return {"sent": sent, "failed": failed}
