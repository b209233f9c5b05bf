"""The post-visit question: `policy.feedback.ask_after_hours` after a visit, "How was your visit
to {store}?" with 1–5 star buttons, once per visit.

Choices (what a restaurant would expect):

- **Who is asked.** Members with a Telegram user who have not blocked the bot, not erased, about
  a standing (not voided) visit. The question is unsolicited, so members who said no to
  messages (`marketing_consent` False, e.g. after /stop) are not asked; members who never
  answered the consent question (None) are: it is about a visit they just made, not an offer.
  Two visits close together (lunch, then coffee) give one question, about the later one.
- **When.** Never in quiet hours (`policy.caps.quiet_hours` in the store's time zone): a
  question due at night goes out when they end. It is not marketing: it does not count toward,
  nor is it held back by, the weekly cap.
- **Once.** The outbox's dedupe key f"feedback:{visit_id}" makes each visit asked at most once,
  however often the job runs or however many replicas run it.
- **Only recent visits.** Visits from `ask_after_hours` to `ask_after_hours` + RECENT ago: a
  restart catches up on what it missed, a new deployment does not ask about last year's visits.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from loyalty import feedback, outbox
from scheduler.context import JobContext
from ui.keyboards.feedback import stars_keyboard_json
from ui.locales import locale_from_language_code
from ui.texts import feedback_request_text

log = logging.getLogger(__name__)

RECENT = timedelta(days=2)
BATCH = 500


async def feedback_requests(context: JobContext) -> dict[str, Any]:
    """Queue the question for every visit that is due it as of now (idempotent)."""
    now = context.clock.now()
    policy = context.policy
    after = timedelta(hours=policy.feedback.ask_after_hours)
    queued = deferred = 0
    while True:
        async with context.session_factory() as session, session.begin():
            due = await feedback.due_requests(
                session, now=now, after=after, recent=RECENT, limit=BATCH
            )
            for ask in due:
                locale = ask.locale or locale_from_language_code(
                    ask.language_code, context.i18n.default_locale
                )
                with context.i18n.context(), context.i18n.use_locale(locale):
                    text = feedback_request_text(store=ask.store_name)
                when = outbox.next_send_time(
                    now, quiet=policy.caps.quiet_hours, timezone=ask.timezone
                )
                if await outbox.enqueue_one(
                    session,
                    telegram_id=ask.telegram_id,
                    member_id=ask.member_id,
                    text=text,
                    dedupe=feedback.request_key(ask.visit_id),
                    now=now,
                    marketing=False,
                    buttons=stars_keyboard_json(ask.visit_id),
                    at=when,
                ):
                    queued += when <= now
                    deferred += when > now
        if len(due) < BATCH:
            break
    if queued or deferred:
        log.info("feedback requests: %s queued, %s deferred", queued, deferred)
    return {"queued": queued, "deferred": deferred}
