"""The care desk's daily list: at ``care.hour`` in each store's time zone, the members who need a
personal touch today (loyalty.care) go to the store's managers and to the owners in one message
(two rows of buttons per entry), through the outbox. An empty day sends nothing.

Once per store and local day (the run ledger: "<date>:<store id>"), from the policy's hour on:
a restart or a late timer sends the day's list late, never twice. The same run asks the policy's
survey ("why don't we see you more?") of the store's members who come less than the monthly
minimum (at most once per member per ``survey.every_days``; quiet hours respected).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty import care, feedback, housekeeping, outbox, stores, telegram_users
from loyalty.care import CareList
from loyalty.stores import StoreInfo
from scheduler.context import JobContext
from ui import care as texts
from ui.keyboards.care import list_keyboard_json
from ui.locales import locale_from_language_code

log = logging.getLogger(__name__)

LIST_JOB = "care_list"


def list_period(now: datetime, store: StoreInfo, *, hour: int) -> str | None:
    """The run ledger's period of the store's list due at `now`, or None before the hour."""
    local = now.astimezone(ZoneInfo(store.timezone))
    return f"{local.date().isoformat()}:{store.id}" if local.hour >= hour else None


async def care_lists(context: JobContext) -> dict[str, Any]:
    """Each store's list of the day, once, from the policy's hour on."""
    now = context.clock.now()
    async with context.session_factory() as session:
        chain = await stores.all_stores(session)
    done: dict[str, Any] = {}
    for store in chain:
        period = list_period(now, store, hour=context.policy.care.hour)
        if period is None:
            continue
        async with context.session_factory() as session, session.begin():
            if not await housekeeping.claim_run(session, job=LIST_JOB, period=period, now=now):
                continue
            figures = await _store_day(context, session, store, now)
            await housekeeping.finish_run(
                session, job=LIST_JOB, period=period, result=json.dumps(figures), now=now
            )
        done[str(store.id)] = figures
    return done


async def _store_day(
    context: JobContext, session: AsyncSession, store: StoreInfo, now: datetime
) -> dict[str, Any]:
    policy = context.policy
    found = await care.detect(session, policy=policy, now=now, stores={store.id})
    asked = await care.plan_surveys(
        session, store_id=store.id, policy=policy, now=now, render=texts.survey_render(context.i18n)
    )
    listing = await care.open_entries(session, policy=policy, now=now, stores={store.id})
    staff: list[int] = []
    if listing.items:
        staff = await feedback.staff_to_tell(
            session, owner_ids=context.owner_ids, store_id=store.id
        )
        for telegram_id in staff:
            await _send_list(context, session, listing, store=store, to=telegram_id, now=now)
        await care.mark_listed(session, entry_ids=[i.entry_id for i in listing.items], now=now)
    figures = {
        "found": {k: v for k, v in found.items() if v},
        "listed": len(listing.items),
        "more": listing.more,
        "staff": len(staff),
        "surveys": asked,
    }
    if listing.items or asked:
        log.info("care list of store %s: %s", store.id, figures)
    return figures


async def _send_list(
    context: JobContext,
    session: AsyncSession,
    listing: CareList,
    *,
    store: StoreInfo,
    to: int,
    now: datetime,
) -> None:
    """The list in the reader's language: one message (more if it is long), each with the
    buttons of its entries."""
    chosen, code = await telegram_users.locale_of(session, telegram_id=to)
    locale = chosen or locale_from_language_code(code, context.i18n.default_locale)
    day = now.astimezone(ZoneInfo(store.timezone)).date().isoformat()
    with context.i18n.context(), context.i18n.use_locale(locale):
        messages = texts.list_messages(
            listing.items,
            store=store,
            policy=context.policy,
            more=listing.more,
            locale=locale,
            now=now,
        )
        for part, (text, entries) in enumerate(messages):
            await outbox.enqueue_one(
                session,
                telegram_id=to,
                text=text,
                dedupe=f"care-list:{day}:{store.id}:{to}:{part}",
                now=now,
                buttons=list_keyboard_json(entries) if entries else None,
            )
