"""`/broadcast`: pick a segment → write the message (a photo optional) → preview exactly as
members will see it, with the real audience → send now, schedule, or discard. Managers and
owners only; every button re-checks the role and re-reads the broadcast when pressed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty import audiences, broadcasts, roles
from loyalty.audiences import Segment, SegmentProblem
from loyalty.broadcasts import Broadcast, BroadcastProblem
from loyalty.clock import Clock
from loyalty.errors import NotAllowed
from loyalty.outbox import PlanResult, next_send_time
from loyalty.policy import Policy
from loyalty.stores import StoreInfo
from models.tables import Role
from ui.formatting import format_local_datetime
from ui.keyboards.console import (
    BroadcastAct,
    BroadcastAt,
    BroadcastVersion,
    SegmentDone,
    SegmentPick,
    cancel_keyboard,
    preview_keyboard,
    segment_keyboard,
    when_keyboard,
)
from ui.locales import LANGUAGE_NAMES
from ui.texts import stage_name, taste_name
from ui.winback_texts import turn_name

WakeJob = Callable[[str], None]


class BroadcastFlow(StatesGroup):
    segment = State()
    message = State()
    version = State()
    when = State()


def _manager(role: Role) -> None:
    if not role.at_least(Role.MANAGER):
        raise NotAllowed("broadcast")


def segment_text(segment: Segment, policy: Policy, locale: str) -> str:
    """ "Tier: Loyal, Regular · Language: English" — or "all members"."""
    if segment.is_everyone:
        return _("all members")
    parts = []
    if segment.tiers:
        names = ", ".join(policy.tiers.display_name(t, locale) for t in segment.tiers)
        parts.append(_("tier: {names}").format(names=names))
    if segment.stages:
        names = ", ".join(stage_name(s) for s in segment.stages)
        parts.append(_("stage: {names}").format(names=names))
    if segment.turns:
        names = ", ".join(turn_name(t) for t in segment.turns)
        parts.append(_("turn: {names}").format(names=names))
    if segment.languages:
        names = ", ".join(LANGUAGE_NAMES.get(lang, lang) for lang in segment.languages)
        parts.append(_("language: {names}").format(names=names))
    if segment.tags:
        names = ", ".join(taste_name(policy, t, locale) for t in segment.tags)
        parts.append(_("taste: {names}").format(names=names))
    return " · ".join(parts)


async def _picker_text(
    session: AsyncSession, segment: Segment, policy: Policy, clock: Clock, locale: str
) -> str:
    matching = await audiences.count(
        session, segment=segment, policy=policy, now=clock.now(), default_locale=locale
    )
    return "\n".join(
        [
            _("New broadcast. Who should receive it? Tap to choose; choose nothing for everyone."),
            _("Rows: tier · how often they come · language · taste."),
            "",
            _("Audience: {segment}").format(segment=segment_text(segment, policy, locale)),
            ngettext("{count} member matches.", "{count} members match.", matching).format(
                count=matching
            ),
        ]
    )


async def start(
    message: Message,
    role: Role,
    state: FSMContext,
    session: AsyncSession,
    policy: Policy,
    clock: Clock,
    store: StoreInfo,
    locale: str,
) -> None:
    _manager(role)
    assert message.from_user is not None
    reach = await roles.managed_stores(session, telegram_id=message.from_user.id, role=role)
    everyone = Segment().within(reach)
    await state.set_state(BroadcastFlow.segment)
    await state.update_data(segment=everyone.to_json())
    for waiting in await broadcasts.scheduled(session, reach=reach):
        await message.answer(
            _("Scheduled for {when}: {text}").format(
                when=format_local_datetime(
                    waiting.scheduled_at or clock.now(), store.timezone, locale
                ),
                text=waiting.text[:200],
            ),
            reply_markup=cancel_keyboard(waiting.id, _("Cancel this broadcast")),
        )
    choices = await audiences.choices(session, policy=policy, stores=reach)
    await message.answer(
        await _picker_text(session, everyone, policy, clock, locale),
        reply_markup=segment_keyboard(everyone, choices, policy, locale),
    )


async def pick(
    query: CallbackQuery,
    callback_data: SegmentPick,
    role: Role,
    state: FSMContext,
    session: AsyncSession,
    policy: Policy,
    clock: Clock,
    locale: str,
) -> None:
    _manager(role)
    if await state.get_state() != BroadcastFlow.segment.state:
        await query.answer(_("This button is no longer active."), show_alert=True)
        return
    data = await state.get_data()
    reach = await roles.managed_stores(session, telegram_id=query.from_user.id, role=role)
    try:
        segment = (
            Segment.from_json(data.get("segment", ""))
            .toggled(callback_data.dim, callback_data.value)
            .within(reach)
        )
        segment.check(policy)
    except SegmentProblem:
        await query.answer(_("This choice is no longer available."), show_alert=True)
        return
    await state.set_state(BroadcastFlow.segment)
    await state.update_data(segment=segment.to_json())
    await query.answer()
    if query.message is not None and not isinstance(query.message, InaccessibleMessage):
        choices = await audiences.choices(session, policy=policy, stores=reach)
        await query.message.edit_text(
            await _picker_text(session, segment, policy, clock, locale),
            reply_markup=segment_keyboard(segment, choices, policy, locale),
        )


async def ask_message(query: CallbackQuery, role: Role, state: FSMContext) -> None:
    _manager(role)
    if await state.get_state() != BroadcastFlow.segment.state:  # an old picker: its choice
        await query.answer(_("This button is no longer active."), show_alert=True)  # is gone
        return
    await state.set_state(BroadcastFlow.message)
    await query.answer()
    if query.message is not None:
        await query.message.answer(
            _(
                "Now send the message as members should see it. You may send one photo with "
                "the text as its caption. /cancel to stop."
            )
        )


async def message_written(
    message: Message,
    role: Role,
    state: FSMContext,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    policy: Policy,
    clock: Clock,
    store: StoreInfo,
    locale: str,
    bot: Bot,
) -> None:
    _manager(role)
    assert message.from_user is not None
    photo = message.photo[-1].file_id if message.photo else None
    text = (message.caption if photo else message.text) or ""
    data = await state.get_data()
    reach = await roles.managed_stores(session, telegram_id=message.from_user.id, role=role)
    try:
        draft = await broadcasts.create_draft(
            session,
            segment=Segment.from_json(data.get("segment", "")).within(reach),
            text=text,
            photo=photo,
            created_by=message.from_user.id,
            policy=policy,
            now=clock.now(),
        )
    except BroadcastProblem as problem:
        await message.answer(problem_text(problem))
        return
    except SegmentProblem:
        await state.clear()
        await message.answer(_("This choice is no longer available."))
        return
    await state.clear()
    await message.answer(_("Preview — exactly what members will receive:"))
    await _show_preview(
        message, bot, draft.text, session, session_factory, draft, policy, clock, store, locale
    )


async def _show_preview(
    message: Message,
    bot: Bot,
    text: str,
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    draft: Broadcast,
    policy: Policy,
    clock: Clock,
    store: StoreInfo,
    locale: str,
) -> None:
    """The message as members get it (`text`: the version shown), then what sending would do."""
    if draft.photo:
        await bot.send_photo(message.chat.id, draft.photo, caption=text)
    else:
        await bot.send_message(message.chat.id, text)
    await _send_summary(message, session, sessions, draft, policy, clock, store, locale)


async def _send_summary(
    message: Message,
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    draft: Broadcast,
    policy: Policy,
    clock: Clock,
    store: StoreInfo,
    locale: str,
) -> None:
    await message.answer(
        await _summary(session, sessions, draft, policy, clock, store, locale),
        reply_markup=preview_keyboard(draft, policy),
    )


async def _summary(
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    draft: Broadcast,
    policy: Policy,
    clock: Clock,
    store: StoreInfo,
    locale: str,
) -> str:
    now = clock.now()
    await session.commit()  # the preview reads in short transactions of its own
    counts = await broadcasts.preview(
        sessions, broadcast_id=draft.id, policy=policy, now=now, default_locale=locale
    )
    quiet_end = next_send_time(now, quiet=policy.caps.quiet_hours, timezone=store.timezone)
    versions = [_("Tap a language to add the text its readers get.")]
    if draft.versions:
        names = ", ".join(LANGUAGE_NAMES.get(v, v) for v in sorted(draft.versions))
        versions = [
            _("Versions: {languages}; everyone else gets the text as first written.").format(
                languages=names
            )
        ]
    return "\n".join(
        [
            _("Audience: {segment}").format(segment=segment_text(draft.segment, policy, locale)),
            *versions,
            *audience_lines(
                counts,
                policy,
                later=format_local_datetime(quiet_end, store.timezone, locale),
            ),
        ]
    )


def audience_lines(counts: PlanResult, policy: Policy, *, later: str) -> list[str]:
    """What sending it would do, one line per outcome that happens to somebody."""
    reach = counts.queued + counts.deferred
    if reach == 0:
        lines = [_("Nobody would receive it.")]
    else:
        lines = [
            ngettext(
                "{count} member will receive it.", "{count} members will receive it.", reach
            ).format(count=reach)
        ]
    cap = policy.caps.max_marketing_per_week
    outcomes = [
        (
            counts.deferred,
            ngettext(
                "• {count} of them at {time}, after the quiet hours",
                "• {count} of them at {time}, after the quiet hours",
                counts.deferred,
            ),
        ),
        (
            counts.holdout,
            ngettext(
                "• {count} kept as a control group (not messaged, to measure the effect)",
                "• {count} kept as a control group (not messaged, to measure the effect)",
                counts.holdout,
            ),
        ),
        (
            counts.no_consent,
            ngettext(
                "• {count} has not agreed to offers",
                "• {count} have not agreed to offers",
                counts.no_consent,
            ),
        ),
        (
            counts.capped,
            ngettext(
                "• {count} already had {cap} offers this week",
                "• {count} already had {cap} offers this week",
                counts.capped,
            ),
        ),
        (
            counts.unreachable,
            ngettext(
                "• {count} has blocked the bot",
                "• {count} have blocked the bot",
                counts.unreachable,
            ),
        ),
    ]
    lines += [text.format(count=n, time=later, cap=cap) for n, text in outcomes if n]
    return lines


def problem_text(problem: BroadcastProblem) -> str:
    if problem.reason == "empty":
        return _("The message is empty. Send the text members should receive.")
    if problem.reason == "caption_too_long":
        return _("With a photo the text can be at most {n} characters. Please shorten it.").format(
            n=broadcasts.MAX_CAPTION
        )
    if problem.reason == "too_long":
        return _("The text can be at most {n} characters. Please shorten it.").format(
            n=broadcasts.MAX_TEXT
        )
    if problem.reason == "past":
        return _("That time has already passed. Please send a later time.")
    if problem.reason == "too_far":
        return _("A broadcast can be scheduled at most {days} days ahead.").format(
            days=broadcasts.LATEST.days
        )
    if problem.status == broadcasts.CANCELLED:
        return _("This broadcast was cancelled.")
    if problem.status in (broadcasts.SCHEDULED,):
        return _("This broadcast is already scheduled.")
    if problem.status in (broadcasts.PLANNING, broadcasts.SENDING):
        return _("This broadcast is already being sent.")
    return _("This broadcast no longer exists.")


async def act(
    query: CallbackQuery,
    callback_data: BroadcastAct,
    role: Role,
    state: FSMContext,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    policy: Policy,
    clock: Clock,
    store: StoreInfo,
    locale: str,
    wake_job: WakeJob | None = None,
) -> None:
    _manager(role)
    message = query.message if not isinstance(query.message, InaccessibleMessage) else None
    now = clock.now()
    reach = await roles.managed_stores(session, telegram_id=query.from_user.id, role=role)
    try:
        current = await broadcasts.get(session, broadcast_id=callback_data.id, reach=reach)
        if callback_data.action == "send":
            done = await broadcasts.schedule(
                session, broadcast_id=callback_data.id, at=now, by=query.from_user.id, now=now
            )
            await state.clear()  # whatever step was open (a time being typed) is over
            await query.answer()
            if wake_job is not None:
                wake_job("broadcasts")  # the update's writes are committed: answer() sent
            if message is not None:
                await message.edit_text(
                    _("Sending to {segment}. /campaigns shows how it goes.").format(
                        segment=segment_text(done.segment, policy, locale)
                    ),
                    reply_markup=cancel_keyboard(done.id, _("Stop sending")),
                )
        elif callback_data.action == "later":
            if current.status != broadcasts.DRAFT:
                raise BroadcastProblem("not_draft", status=current.status)
            await state.set_state(BroadcastFlow.when)
            await state.update_data(broadcast_id=callback_data.id)
            await query.answer()
            if message is not None:
                await message.answer(
                    _(
                        "When should it go out? Send a date and time in the restaurant's time "
                        "({zone}), for example {example}, or pick one:"
                    ).format(zone=store.timezone, example=_example(now, store.timezone)),
                    reply_markup=when_keyboard(
                        callback_data.id, _quick_times(now, store.timezone, locale)
                    ),
                )
        elif callback_data.action == "control":
            draft = await broadcasts.toggle_control_group(
                session, broadcast_id=callback_data.id, policy=policy
            )
            await query.answer()
            if message is not None:
                await message.edit_text(
                    await _summary(session, session_factory, draft, policy, clock, store, locale),
                    reply_markup=preview_keyboard(draft, policy),
                )
        else:
            cancelled = await broadcasts.cancel(
                session, broadcast_id=callback_data.id, by=query.from_user.id, now=now
            )
            await state.clear()
            await query.answer()
            if message is not None:
                await message.edit_text(_cancelled_text(cancelled))
    except BroadcastProblem as problem:
        await query.answer(problem_text(problem), show_alert=True)


async def ask_version(
    query: CallbackQuery,
    callback_data: BroadcastVersion,
    role: Role,
    state: FSMContext,
    session: AsyncSession,
) -> None:
    _manager(role)
    reach = await roles.managed_stores(session, telegram_id=query.from_user.id, role=role)
    try:
        draft = await broadcasts.get(session, broadcast_id=callback_data.id, reach=reach)
        if draft.status != broadcasts.DRAFT or callback_data.locale not in LANGUAGE_NAMES:
            raise BroadcastProblem("not_draft", status=draft.status)
    except BroadcastProblem as problem:
        await query.answer(problem_text(problem), show_alert=True)
        return
    await state.set_state(BroadcastFlow.version)
    await state.update_data(broadcast_id=draft.id, version=callback_data.locale)
    await query.answer()
    if query.message is not None:
        await query.message.answer(
            _("Send the text for members who read {language}. /cancel to stop.").format(
                language=LANGUAGE_NAMES[callback_data.locale]
            )
        )


async def version_written(
    message: Message,
    role: Role,
    state: FSMContext,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    policy: Policy,
    clock: Clock,
    store: StoreInfo,
    locale: str,
    bot: Bot,
) -> None:
    _manager(role)
    data = await state.get_data()
    try:
        draft = await broadcasts.set_version(
            session,
            broadcast_id=int(data.get("broadcast_id", 0)),
            locale=str(data.get("version", "")),
            text=message.text or "",
        )
    except BroadcastProblem as problem:
        if problem.reason != "empty" and "too_long" not in problem.reason:
            await state.clear()
        await message.answer(problem_text(problem))
        return
    await state.clear()
    language = LANGUAGE_NAMES.get(str(data.get("version")), "")
    await message.answer(
        _("Preview — what members who read {language} will receive:").format(language=language)
    )
    text = draft.versions[str(data.get("version"))]
    await _show_preview(
        message, bot, text, session, session_factory, draft, policy, clock, store, locale
    )


def _cancelled_text(cancelled: broadcasts.Cancelled) -> str:
    if cancelled.was == broadcasts.DRAFT:
        return _("Discarded: nothing was sent.")
    if cancelled.was == broadcasts.SCHEDULED:
        return _("Cancelled: nothing will be sent.")
    return ngettext(
        "Stopped: {count} message was not sent.",
        "Stopped: {count} messages were not sent.",
        cancelled.messages,
    ).format(count=cancelled.messages)


def _example(now: datetime, timezone: str) -> str:
    tomorrow = now.astimezone(ZoneInfo(timezone)).date() + timedelta(days=1)
    return f"{tomorrow.isoformat()} 10:00"


def _quick_times(now: datetime, timezone: str, locale: str) -> list[tuple[str, datetime]]:
    zone = ZoneInfo(timezone)
    today = now.astimezone(zone).date()
    options = []
    for day in (today, today + timedelta(days=1)):
        for hour in (11, 17):
            at = datetime.combine(day, time(hour), tzinfo=zone)
            if at > now:
                options.append((format_local_datetime(at, timezone, locale), at))
    return options[:3]


def read_time(text: str, *, timezone: str) -> datetime | None:
    """ "2026-11-24 10:00" in the store's time zone; None if it is not a date and time."""
    try:
        day, clock = " ".join(text.split()).split(" ")
        return datetime.combine(
            date.fromisoformat(day), time.fromisoformat(clock), tzinfo=ZoneInfo(timezone)
        )
    except ValueError:
        return None


RETRYABLE = ("past", "too_far")
"""Problems with the time typed: the manager may send another; any other ends the step."""


async def _schedule(
    session: AsyncSession,
    *,
    broadcast_id: int,
    at: datetime,
    by: int,
    role: Role,
    policy: Policy,
    clock: Clock,
    store: StoreInfo,
    locale: str,
) -> tuple[str, InlineKeyboardMarkup | None, BroadcastProblem | None]:
    """Schedule it: the reply, a Cancel button when it worked, else the problem."""
    reach = await roles.managed_stores(session, telegram_id=by, role=role)
    try:
        await broadcasts.get(session, broadcast_id=broadcast_id, reach=reach)
        done = await broadcasts.schedule(
            session, broadcast_id=broadcast_id, at=at, by=by, now=clock.now()
        )
    except BroadcastProblem as problem:
        return problem_text(problem), None, problem
    text = _("Scheduled for {when} to {segment}.").format(
        when=format_local_datetime(done.scheduled_at or at, store.timezone, locale),
        segment=segment_text(done.segment, policy, locale),
    )
    return text, cancel_keyboard(done.id, _("Cancel this broadcast")), None


async def time_typed(
    message: Message,
    role: Role,
    state: FSMContext,
    session: AsyncSession,
    policy: Policy,
    clock: Clock,
    store: StoreInfo,
    locale: str,
) -> None:
    _manager(role)
    assert message.from_user is not None
    at = read_time(message.text or "", timezone=store.timezone)
    if at is None:
        await message.answer(
            _("I could not read that time. Please send it like {example}.").format(
                example=_example(clock.now(), store.timezone)
            )
        )
        return
    data = await state.get_data()
    text, markup, problem = await _schedule(
        session,
        broadcast_id=int(data.get("broadcast_id", 0)),
        at=at,
        by=message.from_user.id,
        role=role,
        policy=policy,
        clock=clock,
        store=store,
        locale=locale,
    )
    if problem is None or problem.reason not in RETRYABLE:
        await state.clear()
    await message.answer(text, reply_markup=markup)


async def time_picked(
    query: CallbackQuery,
    callback_data: BroadcastAt,
    role: Role,
    state: FSMContext,
    session: AsyncSession,
    policy: Policy,
    clock: Clock,
    store: StoreInfo,
    locale: str,
) -> None:
    _manager(role)
    text, markup, problem = await _schedule(
        session,
        broadcast_id=callback_data.id,
        at=datetime.fromtimestamp(callback_data.at, tz=UTC),
        by=query.from_user.id,
        role=role,
        policy=policy,
        clock=clock,
        store=store,
        locale=locale,
    )
    if problem is not None:
        await query.answer(text, show_alert=True)
        return
    await state.clear()
    await query.answer()
    if query.message is not None:
        await query.message.answer(text, reply_markup=markup)


def build_router() -> Router:
    router = Router(name="broadcast")
    router.message.register(start, Command("broadcast"))
    router.callback_query.register(pick, SegmentPick.filter())
    router.callback_query.register(ask_message, SegmentDone.filter())
    router.callback_query.register(act, BroadcastAct.filter())
    router.callback_query.register(time_picked, BroadcastAt.filter())
    router.message.register(
        message_written,
        StateFilter(BroadcastFlow.message),
        F.photo | (F.text & ~F.text.startswith("/")),
    )
    router.message.register(
        time_typed, StateFilter(BroadcastFlow.when), F.text, ~F.text.startswith("/")
    )
    router.callback_query.register(ask_version, BroadcastVersion.filter())
    router.message.register(
        version_written, StateFilter(BroadcastFlow.version), F.text, ~F.text.startswith("/")
    )
    return router
