"""The morning reminder of a confirmed table: from ``reservations.remind_hour`` on the day (the
store's time), once, through the outbox — a service the member asked for, not marketing (no cap,
no quiet hours: the hour is the policy's). A table confirmed after that hour on its own day was
just told to the member: it is marked reminded without a second message."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from loyalty import outbox, reservations, telegram_users
from loyalty.reservations import local_moment
from scheduler.context import JobContext
from ui.locales import locale_from_language_code
from ui.reservations import reminder_text


async def reservation_reminders(context: JobContext) -> dict[str, Any]:
    now = context.clock.now()
    sent = skipped = 0
    async with context.session_factory() as session, session.begin():
        due = await reservations.due_reminders(session, policy=context.policy, now=now)
        for found in due:
            if not await reservations.mark_reminded(session, reservation_id=found.id, now=now):
                continue
            morning = _morning(found.local.date(), context, found.timezone)
            if not await reservations.confirmed_before(
                session, reservation_id=found.id, moment=morning
            ):
                skipped += 1
                continue
            chosen, code = await telegram_users.locale_of(session, telegram_id=found.telegram_id)
            locale = chosen or locale_from_language_code(code, context.i18n.default_locale)
            with context.i18n.context(), context.i18n.use_locale(locale):
                text = reminder_text(found, locale)
            await outbox.enqueue_one(
                session,
                telegram_id=found.telegram_id,
                member_id=found.member_id,
                text=text,
                dedupe=f"reservation:{found.id}:reminder",
                now=now,
            )
            sent += 1
    return {"sent": sent, "skipped": skipped}


def _morning(day: date, context: JobContext, timezone: str) -> datetime:
    return local_moment(day, time(context.policy.reservations.remind_hour), timezone)
