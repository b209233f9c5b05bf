"""Managers' broadcasts whose time has come: planned into the outbox a page at a time.

"Send now" is a broadcast scheduled for now: the handler wakes this job right away, and the
timer (every minute) catches anything else — a scheduled time reached, a planning interrupted
by a restart (planning again adds nothing: every message has a dedupe key).
"""

from __future__ import annotations

from typing import Any

from loyalty import broadcasts
from loyalty.outbox import PlanResult
from scheduler.context import JobContext
from ui.locales import locale_from_language_code


async def run_broadcasts(context: JobContext) -> dict[str, Any]:
    now = context.clock.now()
    default_locale = context.i18n.default_locale
    async with context.session_factory() as session:
        due = await broadcasts.due(session, now=now)
    done: dict[str, Any] = {}
    for broadcast_id in due:
        async with context.session_factory() as session, session.begin():
            if not await broadcasts.start_planning(session, broadcast_id=broadcast_id):
                continue
        total = PlanResult()
        after: int | None = 0
        while after is not None:
            async with context.session_factory() as session, session.begin():
                result, after = await broadcasts.plan_page(
                    session,
                    broadcast_id=broadcast_id,
                    after_id=after,
                    policy=context.policy,
                    now=now,
                    default_locale=default_locale,
                    locale_of=lambda person: (
                        person.locale
                        or locale_from_language_code(person.language_code, default_locale)
                    ),
                )
            total.add(result)
        done[str(broadcast_id)] = total.as_dict()
    return done
