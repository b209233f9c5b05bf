"""The owners' weekly digest: on ``reports.digest_weekday`` from ``reports.digest_hour`` in each
store's time zone, last week's figures against the week before (the text of `/stats`) and its
charts, to every owner. Once per store and week (the run ledger: "<ISO week>:<store id>"); a day
missed is not caught up (next week's digest covers the figures again)."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BufferedInputFile

from loyalty import housekeeping, period_reports, periods, stores, telegram_users
from loyalty.period_reports import PeriodStats
from loyalty.policy import WEEKDAYS
from loyalty.stores import StoreInfo
from scheduler.context import JobContext
from ui import period_charts, period_texts
from ui.locales import locale_from_language_code

log = logging.getLogger(__name__)

DIGEST_JOB = "weekly_digest"


def digest_period(now: datetime, store: StoreInfo, *, weekday: str, hour: int) -> str | None:
    """The run ledger's period of the digest due at `now` in this store, or None."""
    local = now.astimezone(ZoneInfo(store.timezone))
    if WEEKDAYS[local.weekday()] != weekday or local.hour < hour:
        return None
    year, week, _day = local.isocalendar()
    return f"{year}-W{week:02d}:{store.id}"


async def weekly_digest(context: JobContext) -> dict[str, Any]:
    policy = context.policy
    bot = context.bot
    if not policy.reports.digest or not context.owner_ids or bot is None:
        return {}
    now = context.clock.now()
    async with context.session_factory() as session:
        chain = await stores.all_stores(session)
    done: dict[str, Any] = {}
    for store in chain:
        period = digest_period(
            now, store, weekday=policy.reports.digest_weekday, hour=policy.reports.digest_hour
        )
        if period is None:
            continue
        async with context.session_factory() as session, session.begin():
            if not await housekeeping.claim_run(session, job=DIGEST_JOB, period=period, now=now):
                continue
            today = now.astimezone(ZoneInfo(store.timezone)).date()
            week = periods.custom(
                today - timedelta(days=7),
                today - timedelta(days=1),
                now=now,
                timezone=store.timezone,
            )
            stats = await period_reports.period_stats(
                session,
                store_id=store.id,
                currency=store.currency,
                period=week,
                policy=policy,
                now=now,
            )
        # claimed (and committed) before anything goes out: a crash while sending loses that
        # week's digest rather than sending it twice
        sent = await _send(context, bot, stats, store=store)
        async with context.session_factory() as session, session.begin():
            await housekeeping.finish_run(
                session, job=DIGEST_JOB, period=period, result=json.dumps({"sent": sent}), now=now
            )
        done[str(store.id)] = {"sent": sent}
    return done


async def _send(context: JobContext, bot: Bot, stats: PeriodStats, *, store: StoreInfo) -> int:
    """The digest to each owner in their language; how many got it."""
    sent = 0
    for owner in context.owner_ids:
        async with context.session_factory() as session:
            chosen, code = await telegram_users.locale_of(session, telegram_id=owner)
        locale = chosen or locale_from_language_code(code, context.i18n.default_locale)
        with context.i18n.context(), context.i18n.use_locale(locale):
            chunks = period_texts.stats_messages(
                stats, policy=context.policy, store=store, locale=locale, digest=True
            )
            title = period_texts.chart_title(stats, store=store, locale=locale)
            labels = period_charts.chart_labels(
                stats, title=title, locale=locale, i18n=context.i18n
            )
        png = await asyncio.to_thread(period_charts.period_png, stats, labels)
        try:
            for chunk in chunks:
                await bot.send_message(owner, chunk)
            await bot.send_photo(
                owner, BufferedInputFile(png, filename="digest.png"), caption=title
            )
            sent += 1
        except TelegramAPIError as exc:
            log.warning("weekly digest to %s not delivered: %s", owner, exc)
    return sent
