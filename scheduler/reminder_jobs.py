"""The reminders job: once per local day, after the nightly refresh has expired the day's points
and moved tiers and due dates, it asks `loyalty.reminders` who is due and queues each reminder
through the outbox in the member's language (consent, the weekly cap and quiet hours apply there:
at 03:00 everything waits for the end of the quiet hours).

The day's run is claimed in the run ledger in the same transaction as what it queues, so a crash
leaves the day to the next tick; and each reminder has its own dedupe key, so it fires once
however often the job runs. Reminders are evaluated as of now, not day by day: after downtime
the first run finds whatever is due by then (their windows reach back a few days).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from loyalty import coupons, housekeeping, outbox, reminders
from loyalty.outbox import PlanResult, Recipient
from loyalty.reminders import Reminder
from scheduler.context import JobContext
from scheduler.lifecycle_jobs import REFRESH_AT, STALE_RUN
from ui.locales import locale_from_language_code
from ui.reminder_texts import (
    anniversary_text,
    coupon_expiring_text,
    keep_tier_text,
    multiplier_day_text,
    near_points_text,
    near_tier_text,
    points_expiring_text,
)
from ui.texts import coupon_text

log = logging.getLogger(__name__)

JOB = "reminders"
BATCH = 1000

Text = Callable[[Recipient, Reminder, str], str]
"""(recipient, reminder, locale) → the message, rendered in that locale."""


async def run_reminders(context: JobContext) -> dict[str, Any]:
    """Plan the day's reminders once, after the day's nightly refresh has finished.

    The day is claimed first (its own transaction), the reminders are found in a read-only
    session (seconds at 100k members: bench.reminders; no write lock held meanwhile), then
    queued and the day finished in one transaction. A failure gives the day back; a process
    that dies mid-way leaves a claim that goes stale and is taken over (the dedupe keys make
    planning again harmless)."""
    now = context.clock.now()
    local = now.astimezone(ZoneInfo(context.timezone))
    if local.time() < REFRESH_AT:
        return {"waiting_until": REFRESH_AT.isoformat()}
    today = local.date()
    period = today.isoformat()
    async with context.session_factory() as session:
        if not await housekeeping.run_finished(session, job="nightly_refresh", period=period):
            return {"waiting": "nightly_refresh"}
    async with context.session_factory() as session, session.begin():
        claimed = await housekeeping.claim_run(
            session, job=JOB, period=period, now=now, stale_after=STALE_RUN
        )
    if not claimed:
        return {"period": period, "ran": False}
    try:
        async with context.session_factory() as session:
            found = await _find_all(context, session, today, now)
        async with context.session_factory() as session, session.begin():
            done = await _plan_all(context, session, found, today, now)
            figures = {kind: result.as_dict() for kind, result in done.items()}
            await housekeeping.finish_run(
                session, job=JOB, period=period, result=_summary(figures), now=now
            )
    except BaseException:
        async with context.session_factory() as session, session.begin():
            await housekeeping.release_run(session, job=JOB, period=period)
        raise
    log.info("reminders %s: %s", period, figures)
    return {"period": period, "ran": True, **figures}


def _summary(figures: dict[str, dict[str, int]]) -> str:
    """kind=queued/deferred for the run ledger (its result column is short)."""
    return " ".join(f"{k}={v['queued']}/{v['deferred']}" for k, v in figures.items())


async def _find_all(
    context: JobContext, session: AsyncSession, today: date, now: datetime
) -> dict[str, list[Reminder]]:
    """Who is due for what, most urgent kind first: the weekly cap lets the first ones through."""
    policy, timezone = context.policy, context.timezone
    days = policy.reminders.points_expiring_days
    coming = [today + timedelta(days=i) for i in range(1, days + 1)]
    refreshes = [(day, _refresh_moment(day, timezone)) for day in coming]
    return {
        reminders.COUPON_EXPIRING: await reminders.coupons_expiring(
            session, policy=policy, now=now, today=today, timezone=timezone
        ),
        reminders.POINTS_EXPIRING: await reminders.points_expiring(
            session, policy=policy, today=today, refreshes=refreshes
        ),
        reminders.KEEP_TIER: await reminders.keep_tier(
            session, policy=policy, now=now, timezone=timezone
        ),
        reminders.NEAR_REWARD: await reminders.near_rewards(
            session, policy=policy, now=now, timezone=timezone
        ),
        reminders.ANNIVERSARY: await reminders.anniversaries(
            session, policy=policy, today=today, timezone=timezone
        ),
    }


async def _plan_all(
    context: JobContext,
    session: AsyncSession,
    found: dict[str, list[Reminder]],
    today: date,
    now: datetime,
) -> dict[str, PlanResult]:
    done = {
        kind: await _queue(context, session, kind=kind, found=due, today=today, now=now)
        for kind, due in found.items()
    }
    done[reminders.MULTIPLIER_DAY] = await _announce_multipliers(context, session, today, now)
    return done


def _refresh_moment(day: date, timezone: str) -> datetime:
    return datetime.combine(day, REFRESH_AT, tzinfo=ZoneInfo(timezone))


def _locale(context: JobContext, person: Recipient) -> str:
    return person.locale or locale_from_language_code(
        person.language_code, context.i18n.default_locale
    )


def _rounds(found: Sequence[Reminder]) -> list[list[Reminder]]:
    """The reminders split so that each member appears once per round (two coupons running out
    are two reminders, planned one after the other)."""
    rounds: list[list[Reminder]] = []
    seen: dict[int, int] = {}  # member → rounds they are in already
    for reminder in found:
        index = seen.get(reminder.member_id, 0)
        seen[reminder.member_id] = index + 1
        if index == len(rounds):
            rounds.append([])
        rounds[index].append(reminder)
    return rounds


async def _queue(
    context: JobContext,
    session: AsyncSession,
    *,
    kind: str,
    found: Sequence[Reminder],
    today: date,
    now: datetime,
) -> PlanResult:
    total = PlanResult()
    if not found:
        return total
    policy = context.policy
    campaign = await outbox.ensure_campaign(  # one a month per kind: /campaigns stays readable
        session,
        kind=kind,
        period=f"{today:%Y-%m}",
        holdout_share=policy.reminders.holdout_share,
        now=now,
    )
    text = _texts(context)[kind]
    for round_ in _rounds(found):
        for start in range(0, len(round_), BATCH):
            due = {r.member_id: r for r in round_[start : start + BATCH]}

            async def render(
                person: Recipient, holdout: bool, due: dict[int, Reminder] = due
            ) -> tuple[str, int | None]:
                locale = _locale(context, person)
                with context.i18n.context(), context.i18n.use_locale(locale):
                    return text(person, due[person.member_id], locale), None

            total.add(
                await outbox.plan(
                    session,
                    campaign=campaign,
                    audience=await outbox.recipients(session, member_ids=list(due)),
                    render=render,
                    policy=policy,
                    now=now,
                    periods={member_id: r.period for member_id, r in due.items()},
                )
            )
    return total


async def _announce_multipliers(
    context: JobContext, session: AsyncSession, today: date, now: datetime
) -> PlanResult:
    """Everyone who said yes, on a day a multiplier tied to weekdays applies, if the policy says
    so and the rule's hours are not over by the end of the quiet hours."""
    policy, total = context.policy, PlanResult()
    if not policy.reminders.announce_multipliers:
        return total
    send = outbox.next_send_time(now, quiet=policy.caps.quiet_hours, timezone=context.timezone)
    at = send.astimezone(ZoneInfo(context.timezone)).time()
    rules = [r for r in reminders.multipliers_on(policy, today) if reminders.still_ahead(r, at)]
    if not rules:
        return total
    campaign = await outbox.ensure_campaign(
        session,
        kind=reminders.MULTIPLIER_DAY,
        period=today.isoformat(),
        holdout_share=policy.reminders.holdout_share,
        now=now,
    )

    async def render(person: Recipient, holdout: bool) -> tuple[str, int | None]:
        locale = _locale(context, person)
        with context.i18n.context(), context.i18n.use_locale(locale):
            return multiplier_day_text(store=person.store_name, rules=rules, locale=locale), None

    last = 0
    while ids := await reminders.member_ids_after(session, after=last, limit=BATCH):
        last = ids[-1]
        total.add(
            await outbox.plan(
                session,
                campaign=campaign,
                audience=await outbox.recipients(session, member_ids=ids),
                render=render,
                policy=policy,
                now=now,
            )
        )
    return total


# -- the messages ------------------------------------------------------------------------------


def _coupon_expiring(context: JobContext) -> Text:
    def text(person: Recipient, due: Reminder, locale: str) -> str:
        assert due.coupon is not None
        assert due.day is not None
        return coupon_expiring_text(
            name=person.name,
            coupon=coupon_text(due.coupon, context.policy, locale),
            day=due.day,
            locale=locale,
        )

    return text


def _points_expiring(person: Recipient, due: Reminder, locale: str) -> str:
    assert due.day is not None
    assert due.last_day is not None
    return points_expiring_text(
        name=person.name,
        store=person.store_name,
        points=due.points,
        first=due.day,
        last=due.last_day,
        locale=locale,
    )


def _keep_tier(context: JobContext) -> Text:
    def text(person: Recipient, due: Reminder, locale: str) -> str:
        assert due.tier is not None
        assert due.day is not None
        return keep_tier_text(
            name=person.name,
            store=person.store_name,
            tier=context.policy.tiers.display_name(due.tier, locale),
            day=due.day,
            locale=locale,
        )

    return text


def _near_reward(context: JobContext) -> Text:
    policy = context.policy

    def text(person: Recipient, due: Reminder, locale: str) -> str:
        if due.template is not None:
            template = policy.coupons.templates[due.template]
            assert due.currency is not None
            view = coupons.preview(due.template, template, currency=due.currency)
            return near_points_text(
                name=person.name,
                points=due.points,
                reward=coupon_text(view, policy, locale),
                visits=due.visits,
                locale=locale,
            )
        assert due.tier is not None
        return near_tier_text(
            name=person.name,
            store=person.store_name,
            tier=policy.tiers.display_name(due.tier, locale),
            visits=due.visits,
            day=due.day,
            locale=locale,
        )

    return text


def _anniversary(person: Recipient, due: Reminder, locale: str) -> str:
    return anniversary_text(name=person.name, store=person.store_name, years=due.years)


def _texts(context: JobContext) -> dict[str, Text]:
    return {
        reminders.COUPON_EXPIRING: _coupon_expiring(context),
        reminders.POINTS_EXPIRING: _points_expiring,
        reminders.KEEP_TIER: _keep_tier(context),
        reminders.NEAR_REWARD: _near_reward(context),
        reminders.ANNIVERSARY: _anniversary,
    }
