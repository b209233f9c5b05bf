"""The automated campaigns: birthdays, the second-visit nudge, the win-back ladder, holidays.

Each job is a function of "now" that plans what is due into the outbox; the delivery worker sends
it. Once per local day (from 03:00, after the nightly refresh has moved the due dates) through the
run ledger; after downtime the days missed are caught up, up to CATCH_UP_DAYS back. Planning is
idempotent on its own too: every message has a dedupe key.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, extract, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loyalty import coupons, dishes, housekeeping, outbox, refresh
from loyalty.channels import Channel
from loyalty.outbox import PlanResult, Recipient
from loyalty.policy import CouponTemplate, LocalizedText, Policy
from models.tables import JobRun, Member
from scheduler.context import JobContext
from scheduler.lifecycle_jobs import REFRESH_AT
from ui.locales import locale_from_language_code
from ui.texts import (
    birthday_text,
    coupon_text,
    holiday_text,
    new_dish_text,
    second_visit_text,
    taste_name,
    winback_text,
)

log = logging.getLogger(__name__)

CATCH_UP_DAYS = 3
BATCH = 1000
SECOND_VISIT_HORIZON = timedelta(days=90)
"""Newcomers whose first visit is older than this are past nudging (the win-back takes over)."""

Planner = Callable[[JobContext, AsyncSession, date, datetime], Awaitable[PlanResult]]


async def _days_to_run(context: JobContext, job: str, now: datetime) -> list[date]:
    """The local dates this job still owes, oldest first (today once it is past 03:00)."""
    local = now.astimezone(ZoneInfo(context.timezone))
    today = local.date() if local.time() >= REFRESH_AT else local.date() - timedelta(days=1)
    async with context.session_factory() as session:
        last = await session.scalar(
            select(col(JobRun.period))
            .where(col(JobRun.job) == job)
            .order_by(col(JobRun.period).desc())
            .limit(1)
        )
    if last is None:  # a new deployment starts today: no belated greetings for days before it
        return [today]
    start = max(
        today - timedelta(days=CATCH_UP_DAYS - 1), date.fromisoformat(last) + timedelta(days=1)
    )
    return [start + timedelta(days=i) for i in range((today - start).days + 1)]


async def run_daily(context: JobContext, job: str, planner: Planner) -> dict[str, Any]:
    now = context.clock.now()
    done: dict[str, Any] = {}
    for day in await _days_to_run(context, job, now):
        period = day.isoformat()
        async with context.session_factory() as session, session.begin():
            if not await housekeeping.claim_run(session, job=job, period=period, now=now):
                continue
            result = await planner(context, session, day, now)
            figures = result.as_dict()
            await housekeeping.finish_run(
                session, job=job, period=period, result=json.dumps(figures), now=now
            )
        done[period] = figures
    return done


def _locale(context: JobContext, person: Recipient) -> str:
    return person.locale or locale_from_language_code(
        person.language_code, context.i18n.default_locale
    )


async def _plan_in_batches(
    context: JobContext,
    session: AsyncSession,
    *,
    ids: Sequence[int],
    campaign_kind: str,
    period: str,
    now: datetime,
    text: Callable[[Recipient, str | None], str],
    treatment: Callable[[str], str],
    gift: tuple[str, CouponTemplate] | None,
    respect_cap: bool = True,
    dedupe_period: str | None = None,
    photo: str | None = None,
    dish_name: str | None = None,
    dish_id: int | None = None,
) -> PlanResult:
    """Render and queue a campaign for members `ids`, BATCH at a time. `treatment` maps a tier
    to "off" (left out), "message" or "coupon" (the message with `gift`, never to the holdout).
    `photo` goes with every message; `dish_name` names a free-dish gift the policy does not."""
    policy = context.policy
    campaign = await outbox.ensure_campaign(
        session,
        kind=campaign_kind,
        period=period,
        holdout_share=policy.campaigns.holdout_share,
        now=now,
    )
    if dish_id is not None:
        campaign.dish_id = dish_id
    total = PlanResult()

    async def render(person: Recipient, holdout: bool) -> tuple[str, int | None]:
        locale = _locale(context, person)
        coupon_id = None
        with context.i18n.context(), context.i18n.use_locale(locale):
            gift_text = None
            if gift is not None and not holdout and treatment(person.tier) == "coupon":
                key, terms = gift
                view = await coupons.issue(
                    session,
                    member_id=person.member_id,
                    template_key=key,
                    policy=policy,
                    now=now,
                    campaign=f"{campaign_kind}:{period}",
                    terms=terms,
                    dish_name=dish_name,
                )
                coupon_id = view.id
                gift_text = coupon_text(view, policy, locale)
            return text(person, gift_text), coupon_id

    for start in range(0, len(ids), BATCH):
        batch = await outbox.recipients(session, member_ids=ids[start : start + BATCH])
        audience = [person for person in batch if treatment(person.tier) != "off"]
        total.add(
            await outbox.plan(
                session,
                campaign=campaign,
                audience=audience,
                render=render,
                policy=policy,
                now=now,
                respect_cap=respect_cap,
                dedupe_period=dedupe_period,
                photo=photo,
            )
        )
    return total


def _ids(found: Sequence[int | None]) -> list[int]:
    return [i for i in found if i is not None]


def _by_tier(policy: Policy, campaign: str) -> Callable[[str], str]:
    """The tier → action map of the policy's treatments for one automated campaign."""
    actions = {key: getattr(policy.treatment_for(key), campaign) for key in policy.tiers.keys}
    return lambda tier: str(actions.get(tier, "message"))


def _template(policy: Policy, key: str | None) -> tuple[str, CouponTemplate] | None:
    if key is None or key not in policy.coupons.templates:
        return None
    return key, policy.coupons.templates[key]


# -- birthdays ---------------------------------------------------------------------------------


def birthday_days(day: date) -> list[tuple[int, int]]:  # the inverse of outbox.celebrated_on
    """(month, day) of the birthdays celebrated on `day`: 29 February on 28 February in common
    years."""
    days = [(day.month, day.day)]
    if (day.month, day.day) == (2, 28):
        try:
            date(day.year, 2, 29)
        except ValueError:
            days.append((2, 29))
    return days


async def plan_birthdays(
    context: JobContext, session: AsyncSession, day: date, now: datetime
) -> PlanResult:
    policy = context.policy
    target = day + timedelta(days=policy.campaigns.birthday_days_before)
    wanted = or_(
        *(
            and_(
                extract("month", col(Member.birthday)) == m,
                extract("day", col(Member.birthday)) == d,
            )
            for m, d in birthday_days(target)
        )
    )
    ids = _ids(
        (
            await session.execute(
                select(col(Member.id)).where(
                    col(Member.birthday).is_not(None), col(Member.erased_at).is_(None), wanted
                )
            )
        )
        .scalars()
        .all()
    )

    def text(person: Recipient, gift_text: str | None) -> str:
        return birthday_text(name=person.name, store=person.store_name, gift=gift_text)

    return await _plan_in_batches(
        context,
        session,
        ids=ids,
        campaign_kind="birthday",
        period=target.isoformat(),
        now=now,
        text=text,
        treatment=_by_tier(policy, "birthday"),
        gift=_template(policy, policy.campaigns.birthday_coupon),
        respect_cap=False,  # a birthday is once a year: it goes out, the others give way
    )


# -- the second visit --------------------------------------------------------------------------


async def plan_second_visits(
    context: JobContext, session: AsyncSession, day: date, now: datetime
) -> PlanResult:
    """Newcomers (one visit) when their cohort's typical second visit is due, once each."""
    policy = context.policy
    ids: list[int] = []
    for channel in Channel:
        norms = await refresh.norms_for(
            session, channel=channel.value, tier=policy.tiers.keys[0], policy=policy
        )
        due_after = timedelta(
            days=float(norms.first_return_days) * policy.campaigns.second_visit_factor
        )
        rows = await session.execute(
            select(col(Member.id)).where(
                col(Member.acquisition_channel) == channel.value,
                col(Member.visit_count) == 1,
                col(Member.erased_at).is_(None),
                col(Member.last_visit_at) <= now - due_after,
                col(Member.last_visit_at) > now - SECOND_VISIT_HORIZON,
            )
        )
        ids += _ids(rows.scalars().all())

    def text(person: Recipient, gift_text: str | None) -> str:
        return second_visit_text(name=person.name, store=person.store_name, gift=gift_text)

    return await _plan_in_batches(
        context,
        session,
        ids=ids,
        campaign_kind="second_visit",
        period=day.isoformat(),
        now=now,
        text=text,
        treatment=_by_tier(policy, "second_visit"),
        gift=_template(policy, policy.campaigns.second_visit_coupon),
        dedupe_period="once",
    )


# -- the win-back ladder -----------------------------------------------------------------------


async def plan_winback(
    context: JobContext, session: AsyncSession, day: date, now: datetime
) -> PlanResult:
    """Care message → coupon → stronger coupon → stop (lost). Each step is due a number of days
    after the member became lapsed. An episode is the time since their last visit (the dedupe
    key carries the last visit, which only a visit moves: a nightly refresh that shifts the
    lapsed date by a day starts no new episode); a visit ends it. Loyal tiers ("care") get the
    care step only."""
    policy = context.policy
    total = PlanResult()
    waited = 0
    for index, step in enumerate(policy.ladder.steps):
        waited += step.wait_days
        lapsed = col(Member.lapsed_due_at)
        until = now - timedelta(days=waited)
        rows = await session.execute(
            select(col(Member.id), col(Member.last_visit_at)).where(  # the due-date index
                lapsed > until - timedelta(days=CATCH_UP_DAYS),
                lapsed <= until,
                col(Member.lost_due_at) > now,
                col(Member.erased_at).is_(None),
            )
        )
        by_episode: dict[str, list[int]] = {}
        for member_id, last_visit in rows.all():
            episode = last_visit.isoformat(timespec="seconds") if last_visit else "never"
            by_episode.setdefault(episode, []).append(member_id)
        terms = None
        if step.message == "coupon" and step.coupon_value is not None:
            terms = (
                f"winback_{index + 1}",
                CouponTemplate(
                    kind="amount",
                    value=step.coupon_value,
                    min_spend=step.coupon_min_spend,
                    valid_days=step.coupon_valid_days,
                ),
            )

        def treatment(tier: str, step: Any = step) -> str:
            mode = policy.treatment_for(tier).winback
            if mode == "off" or (mode == "care" and step.message != "care"):
                return "off"  # loyal tiers get care, not discounts
            return "coupon" if step.message == "coupon" else "message"

        def text(person: Recipient, gift_text: str | None) -> str:
            return winback_text(name=person.name, store=person.store_name, gift=gift_text)

        for episode, ids in by_episode.items():
            total.add(
                await _plan_in_batches(
                    context,
                    session,
                    ids=ids,
                    campaign_kind=f"winback_{index + 1}",
                    period=day.isoformat(),
                    now=now,
                    text=text,
                    treatment=treatment,
                    gift=terms,
                    dedupe_period=episode,
                )
            )
    return total


# -- holidays ----------------------------------------------------------------------------------


async def plan_holidays(
    context: JobContext, session: AsyncSession, day: date, now: datetime
) -> PlanResult:
    policy = context.policy
    total = PlanResult()
    for holiday in policy.holidays:
        if not holiday.occurs_on(day):
            continue
        last = 0
        while True:  # every member, a batch of ids at a time
            ids = _ids(
                (
                    await session.execute(
                        select(col(Member.id))
                        .where(col(Member.id) > last, col(Member.erased_at).is_(None))
                        .order_by(col(Member.id))
                        .limit(BATCH)
                    )
                )
                .scalars()
                .all()
            )
            if not ids:
                break
            last = ids[-1]

            def text(person: Recipient, gift_text: str | None, name: Any = holiday.name) -> str:
                locale = _locale(context, person)
                return holiday_text(
                    holiday=name.get(locale),
                    name=person.name,
                    store=person.store_name,
                    gift=gift_text,
                )

            total.add(
                await _plan_in_batches(
                    context,
                    session,
                    ids=ids,
                    campaign_kind="holiday",
                    period=day.isoformat(),
                    now=now,
                    text=text,
                    treatment=_by_tier(policy, "holiday"),
                    gift=_template(policy, policy.campaigns.holiday_coupon),
                )
            )
    return total


# -- new dishes -------------------------------------------------------------------------------


async def plan_new_dishes(context: JobContext) -> dict[str, Any]:
    """Invitations to every dish added since the last run: per tier (the policy's treatment:
    a free tasting, an invitation to bring friends, an announcement), members whose taste
    matches first. One campaign per dish; planning it again adds nothing."""
    now = context.clock.now()
    done: dict[str, Any] = {}
    async with context.session_factory() as session:
        waiting = await dishes.awaiting_invitations(session)
    for dish in waiting:
        async with context.session_factory() as session, session.begin():
            result = await _plan_dish(context, session, dish, now)
        done[str(dish.id)] = result.as_dict()
    return done


async def _plan_dish(
    context: JobContext, session: AsyncSession, dish: dishes.DishView, now: datetime
) -> PlanResult:
    policy = context.policy
    liked, others = await dishes.invitees(session, dish=dish)
    actions = {key: policy.treatment_for(key).new_dish for key in policy.tiers.keys}

    def treatment(tier: str) -> str:
        action = actions.get(tier, "message")
        return "message" if action == "friends" else action

    def text(person: Recipient, gift_text: str | None) -> str:
        locale = _locale(context, person)
        tastes = [taste_name(policy, t, locale) for t in liked.get(person.member_id, ())]
        return new_dish_text(
            store=person.store_name,
            dish=dish.name,
            description=dish.description,
            action=actions.get(person.tier, "message"),
            gift=gift_text,
            tastes=", ".join(tastes) or None,
        )

    tasting = CouponTemplate(
        kind="dish",
        value=policy.campaigns.new_dish_tasting_value,
        valid_days=policy.campaigns.new_dish_tasting_days,
        dish=LocalizedText(en=dish.name, zh_Hans=dish.name, zh_Hant=dish.name),
    )
    return await _plan_in_batches(
        context,
        session,
        ids=[*liked, *others],
        campaign_kind=dishes.KIND,
        period=dishes.period_of(dish.id),
        now=now,
        text=text,
        treatment=treatment,
        gift=("tasting", tasting),
        photo=dish.photo,
        dish_name=dish.name,
        dish_id=dish.id,
    )


# -- the jobs ----------------------------------------------------------------------------------


async def birthdays(context: JobContext) -> dict[str, Any]:
    return await run_daily(context, "birthdays", plan_birthdays)


async def second_visits(context: JobContext) -> dict[str, Any]:
    return await run_daily(context, "second_visits", plan_second_visits)


async def winback(context: JobContext) -> dict[str, Any]:
    return await run_daily(context, "winback", plan_winback)


async def holidays(context: JobContext) -> dict[str, Any]:
    return await run_daily(context, "holidays", plan_holidays)
