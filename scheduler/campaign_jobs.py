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
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, extract, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loyalty import coupons, dishes, housekeeping, offers, outbox, refresh
from loyalty.channels import Channel
from loyalty.lifecycle import Turn
from loyalty.outbox import PlanResult, Recipient
from loyalty.policy import CouponTemplate, LocalizedText, Policy
from models.tables import JobRun, Member
from scheduler.context import JobContext
from scheduler.lifecycle_jobs import REFRESH_AT
from ui.keyboards.reservations import reserve_row
from ui.locales import locale_from_language_code
from ui.reservations import table_offer_text
from ui.texts import (
    birthday_text,
    coupon_text,
    holiday_text,
    new_dish_text,
    second_visit_text,
    taste_name,
    winback_text,
)
from ui.winback_texts import cooling_text, rising_text

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
    family: str | None = None,
    skip_unmoved: bool = False,
) -> PlanResult:
    """Render and queue a campaign for members `ids`, BATCH at a time. `treatment` maps the tier
    a member is treated as (the highest held within the policy's look-back) to "off" (left
    out), "message" or "coupon" (the message with `gift` fitted to the member, never to the
    holdout). A member past ladder.max_unanswered_offers gets the message without the coupon
    (`skip_unmoved`: nothing). A lost member gets nothing unless ladder.lost_keeps names the
    campaign's `family` (its kind by default). `photo` goes with every message; `dish_name`
    names a free-dish gift the policy does not; a birthday or holiday, a table (_TableOffer)."""
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
    keeps_lost = (family or campaign_kind) in policy.ladder.lost_keeps
    total = PlanResult()

    def action(person: Recipient) -> str:
        chosen = treatment(person.treated_as)
        if person.lost_due_at is not None and person.lost_due_at <= now and not keeps_lost:
            return "off"  # lost: automated marketing stops, except what the policy keeps
        if chosen == "coupon" and offers.unmoved(policy, person.unanswered_offers):
            return "off" if skip_unmoved else "message"  # care only: no spend on the unmoved
        return chosen

    async def render(person: Recipient, holdout: bool) -> tuple[str, int | None]:
        locale = _locale(context, person)
        with context.i18n.context(), context.i18n.use_locale(locale):
            view = None
            if gift is not None and not holdout and action(person) == "coupon":
                view = await _offer(
                    context, session, person, gift, now, f"{campaign_kind}:{period}", dish_name
                )
            gift_text = None if view is None else coupon_text(view, policy, locale)
            return text(person, gift_text), None if view is None else view.id

    for start in range(0, len(ids), BATCH):
        batch = await outbox.recipients(session, member_ids=ids[start : start + BATCH])
        treated = await offers.treatment_tiers(
            session, policy=policy, members=[(p.member_id, p.tier) for p in batch], now=now
        )
        batch = [replace(p, treatment_tier=treated[p.member_id]) for p in batch]
        audience = [person for person in batch if action(person) != "off"]
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
                buttons=_TableOffer(context, campaign_kind).keyboard,
            )
        )
    return total


@dataclass(frozen=True, slots=True)
class _TableOffer:
    """A birthday or holiday message (`occasion`: the campaign's kind) offers to keep a table — a
    line and a "Reserve a table" button — to the tiers whose treatment says so (offer_table;
    seed 001). Other campaigns offer none."""

    context: JobContext
    occasion: str | None

    def offered(self, person: Recipient) -> bool:
        treatment = self.context.policy.treatment_for(person.treated_as)
        return self.occasion in ("birthday", "holiday") and self.occasion in treatment.offer_table

    def text(self, person: Recipient, body: str) -> str:
        return f"{body}\n\n{table_offer_text()}" if self.offered(person) else body

    def keyboard(self, person: Recipient) -> str | None:
        if self.occasion is None or not self.offered(person):
            return None  # (the holdout's rows get none either: outbox.plan)
        i18n = self.context.i18n
        with i18n.context(), i18n.use_locale(_locale(self.context, person)):
            return outbox.keyboard_json([reserve_row(self.occasion)])


async def _offer(
    context: JobContext,
    session: AsyncSession,
    person: Recipient,
    gift: tuple[str, CouponTemplate],
    now: datetime,
    campaign: str,
    dish_name: str | None,
) -> coupons.CouponView:
    """The gift fitted to the member (their bill, their rhythm), issued and counted as an
    offer."""
    member = await session.get(Member, person.member_id)
    assert member is not None
    key, terms = gift
    fitted = await offers.fitted_for(
        session,
        policy=context.policy,
        member=member,
        key=key,
        terms=terms,
        now=now,
        timezone=person.timezone,
    )
    view = await coupons.issue(
        session,
        member_id=person.member_id,
        template_key=fitted.key,
        policy=context.policy,
        now=now,
        campaign=campaign,
        terms=fitted.terms,
        dish_name=dish_name,
        adapted=fitted.adapted,
    )
    await offers.offered(session, member=member)
    return view


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
        greeting = birthday_text(name=person.name, store=person.store_name, gift=gift_text)
        return _TableOffer(context, "birthday").text(person, greeting)

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
    care step only — the tier a member is treated as is the highest they held within the
    look-back, so a loyal member the window moved down is still loyal here. A member who left
    ladder.max_unanswered_offers offers unanswered gets the care step only, too."""
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
                    adapt=step.coupon_adapt,
                    smaller=step.coupon_smaller,
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
                    family="winback",
                    skip_unmoved=True,  # their care message went out with the first step
                )
            )
    return total


# -- turning points ----------------------------------------------------------------------------


async def plan_turns(
    context: JobContext, session: AsyncSession, day: date, now: datetime
) -> PlanResult:
    """The turns of seed 004, once per turn: a member who turned *cooling* without a visit
    (their running gap outgrew their recent rhythm, before they are overdue) gets an early care
    message; a member who turned *rising* (their gaps shorten) a thank-you naming their next
    tier. The policy says which (campaigns.on_cooling, campaigns.on_rising)."""
    policy = context.policy
    total = PlanResult()
    since = now - timedelta(days=CATCH_UP_DAYS)
    turn_at = col(Member.turn_at)
    picks: list[tuple[Turn, Any]] = []
    if policy.campaigns.on_cooling == "care":
        no_visit_since = col(Member.last_visit_at) < turn_at  # the gap is still running
        not_overdue = col(Member.lapsed_due_at) > now  # overdue: the win-back acts instead
        picks.append((Turn.COOLING, and_(no_visit_since, not_overdue)))
    if policy.campaigns.on_rising == "thanks":
        picks.append((Turn.RISING, true()))
    for turn, also in picks:
        rows = await session.execute(
            select(col(Member.id), turn_at).where(  # the turn_at index
                turn_at > since,
                turn_at <= now,
                col(Member.turn) == turn.value,
                col(Member.erased_at).is_(None),
                also,
            )
        )
        by_turn: dict[str, list[int]] = {}
        for member_id, at in rows.all():
            by_turn.setdefault(at.isoformat(timespec="seconds"), []).append(member_id)
        for when, ids in by_turn.items():
            total.add(
                await _plan_in_batches(
                    context,
                    session,
                    ids=ids,
                    campaign_kind=turn.value,
                    period=day.isoformat(),
                    now=now,
                    text=_turn_text(context, turn),
                    treatment=_turn_treatment(policy, turn),
                    gift=None,
                    dedupe_period=when,
                )
            )
    return total


def _turn_treatment(policy: Policy, turn: Turn) -> Callable[[str], str]:
    if turn is Turn.COOLING:  # a care message: for every tier the win-back reaches
        modes = {key: policy.treatment_for(key).winback for key in policy.tiers.keys}
        return lambda tier: "off" if modes.get(tier, "ladder") == "off" else "message"
    return lambda tier: "message"


def _turn_text(context: JobContext, turn: Turn) -> Callable[[Recipient, str | None], str]:
    policy = context.policy

    def text(person: Recipient, gift_text: str | None) -> str:
        if turn is Turn.COOLING:
            return cooling_text(name=person.name, store=person.store_name)
        locale = _locale(context, person)
        keys = policy.tiers.keys
        rank = policy.tiers.rank(person.tier)
        upper = keys[rank + 1] if 0 <= rank < len(keys) - 1 else None
        return rising_text(
            name=person.name,
            store=person.store_name,
            next_tier=None if upper is None else policy.tiers.display_name(upper, locale),
        )

    return text


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
                greeting = holiday_text(
                    holiday=name.get(locale),
                    name=person.name,
                    store=person.store_name,
                    gift=gift_text,
                )
                note = policy.treatment_for(person.treated_as).holiday_note
                if note is not None:
                    greeting = f"{greeting}\n\n{note.get(locale)}"
                return _TableOffer(context, "holiday").text(person, greeting)

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


async def turns(context: JobContext) -> dict[str, Any]:
    return await run_daily(context, "turns", plan_turns)
