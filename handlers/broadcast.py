"""`/broadcast`: pick a segment → write the message (a photo optional) → preview exactly as
members will see it, with the real audience → send now, schedule, or discard. Managers and
owners only; every button re-checks the role and re-reads the broadcast when pressed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty import audiences, broadcasts, roles
from loyalty.audiences import Segment, SegmentProblem
from loyalty.broadcasts import Broadcast, BroadcastProblem
from loyalty.clock import Clock
from loyalty.errors import NotAllowed
from loyalty.outbox import next_send_time
from loyalty.policy import Policy
from loyalty.stores import StoreInfo
from models.tables import Role
from ui.broadcast import (
    cancelled_text,
    picker_text,
    problem_text,
    quick_times,
    segment_text,
    summary_text,
    time_example,
)
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

WakeJob = Callable[[str], None]


class BroadcastFlow(StatesGroup):
    segment = State()
    message = State()
    version = State()
    when = State()


def _manager(role: Role) -> None:
    if not role.at_least(Role.MANAGER):
        raise NotAllowed("broadcast")


async def _picker_text(
    session: AsyncSession, segment: Segment, policy: Policy, clock: Clock, locale: str
) -> str:
    matching = await audiences.count(
        session, segment=segment, policy=policy, now=clock.now(), default_locale=locale
    )
    return picker_text(segment, matching, policy, locale)


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
    later = format_local_datetime(quiet_end, store.timezone, locale)
    return summary_text(draft, counts, policy, later=later, locale=locale)


@dataclass(frozen=True, slots=True)
class _Press:
    """A button pressed under a broadcast's preview, with what its action needs."""

    query: CallbackQuery
    message: Message | None  # the preview, when it can still be edited
    current: Broadcast
    state: FSMContext
    session: AsyncSession
    session_factory: async_sessionmaker[AsyncSession]
    policy: Policy
    clock: Clock
    store: StoreInfo
    locale: str
    now: datetime
    wake_job: WakeJob | None


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
    """Send now, later (ask when), the control group on/off, or discard (any other action)."""
    _manager(role)
    message = query.message if not isinstance(query.message, InaccessibleMessage) else None
    now = clock.now()
    reach = await roles.managed_stores(session, telegram_id=query.from_user.id, role=role)
    action = _ACTIONS.get(callback_data.action, _discard)
    try:
        current = await broadcasts.get(session, broadcast_id=callback_data.id, reach=reach)
        await action(
            _Press(
                query=query,
                message=message,
                current=current,
                state=state,
                session=session,
                session_factory=session_factory,
                policy=policy,
                clock=clock,
                store=store,
                locale=locale,
                now=now,
                wake_job=wake_job,
            )
        )
    except BroadcastProblem as problem:
        await query.answer(problem_text(problem), show_alert=True)


async def _send_now(press: _Press) -> None:
    query, message, now = press.query, press.message, press.now
    done = await broadcasts.schedule(
        press.session, broadcast_id=press.current.id, at=now, by=query.from_user.id, now=now
    )
    await press.state.clear()  # whatever step was open (a time being typed) is over
    await query.answer()
    if press.wake_job is not None:
        press.wake_job("broadcasts")  # the update's writes are committed: answer() sent
    if message is not None:
        await message.edit_text(
            _("Sending to {segment}. /campaigns shows how it goes.").format(
                segment=segment_text(done.segment, press.policy, press.locale)
            ),
            reply_markup=cancel_keyboard(done.id, _("Stop sending")),
        )


async def _ask_when(press: _Press) -> None:
    current, store, now = press.current, press.store, press.now
    if current.status != broadcasts.DRAFT:
        raise BroadcastProblem("not_draft", status=current.status)
    await press.state.set_state(BroadcastFlow.when)
    await press.state.update_data(broadcast_id=current.id)
    await press.query.answer()
    if press.message is not None:
        await press.message.answer(
            _(
                "When should it go out? Send a date and time in the restaurant's time "
                "({zone}), for example {example}, or pick one:"
            ).format(zone=store.timezone, example=time_example(now, store.timezone)),
            reply_markup=when_keyboard(current.id, quick_times(now, store.timezone, press.locale)),
        )


async def _toggle_control(press: _Press) -> None:
    draft = await broadcasts.toggle_control_group(
        press.session, broadcast_id=press.current.id, policy=press.policy
    )
    await press.query.answer()
    if press.message is not None:
        await press.message.edit_text(
            await _summary(
                press.session,
                press.session_factory,
                draft,
                press.policy,
                press.clock,
                press.store,
                press.locale,
            ),
            reply_markup=preview_keyboard(draft, press.policy),
        )


async def _discard(press: _Press) -> None:
    cancelled = await broadcasts.cancel(
        press.session, broadcast_id=press.current.id, by=press.query.from_user.id, now=press.now
    )
    await press.state.clear()
    await press.query.answer()
    if press.message is not None:
        await press.message.edit_text(cancelled_text(cancelled))


_ACTIONS: dict[str, Callable[[_Press], Awaitable[None]]] = {
    "send": _send_now,
    "later": _ask_when,
    "control": _toggle_control,
}


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
                example=time_example(clock.now(), store.timezone)
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
