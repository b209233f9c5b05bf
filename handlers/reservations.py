"""Reserving a table: `/reserve` (or "Reserve a table" under a treatment's message) → day → time
→ party → a note → the store's managers get the request with Confirm / Decline / Propose another
time (through the outbox) → the member is told. `/reservations` lists today's and later ones for
managers. The morning reminder is a scheduled job (scheduler/reservation_jobs.py).

A stale picker button (the flow moved on or was cancelled) answers "no longer active" and writes
nothing; the request, each decision and the member's answer write once (loyalty.reservations).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.receipts import their_locale
from loyalty import feedback, outbox, reservations, roles
from loyalty.clock import Clock
from loyalty.errors import NotAllowed
from loyalty.policy import Policy
from loyalty.reservations import ReservationInfo, ReservationProblem
from models.tables import Role
from ui import reservations as texts
from ui.keyboards.reservations import (
    ReserveAnswer,
    ReserveDay,
    ReserveDecide,
    ReserveParty,
    ReservePropose,
    ReserveStart,
    ReserveTime,
    answer_keyboard_json,
    clock_number,
    clock_of,
    day_label,
    day_of,
    days_keyboard,
    decide_keyboard_json,
    party_keyboard,
    propose_keyboard,
    send_keyboard,
    times_keyboard,
)


class ReserveFlow(StatesGroup):
    day = State()
    time = State()
    party = State()
    note = State()


# -- the member ---------------------------------------------------------------------------------


async def _start(
    message: Message,
    *,
    telegram_id: int,
    via: str,
    state: FSMContext,
    session: AsyncSession,
    clock: Clock,
    policy: Policy,
    locale: str,
) -> None:
    try:
        store = await reservations.store_of_member(session, telegram_id=telegram_id)
    except ReservationProblem as problem:
        await message.answer(texts.problem_text(problem))
        return
    days = reservations.bookable_days(policy, now=clock.now(), timezone=store.timezone)
    if not days:
        await message.answer(texts.no_times_text())
        return
    await state.set_state(ReserveFlow.day)
    # the request's one-time key: a double tap on "Send" finds the request already made
    await state.set_data({"key": secrets.token_urlsafe(12), "via": via, "tz": store.timezone})
    await message.answer(texts.ask_day(), reply_markup=days_keyboard(days, locale))


async def reserve_command(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    clock: Clock,
    policy: Policy,
    locale: str,
) -> None:
    assert message.from_user is not None
    await _start(
        message,
        telegram_id=message.from_user.id,
        via="command",
        state=state,
        session=session,
        clock=clock,
        policy=policy,
        locale=locale,
    )


async def reserve_button(
    query: CallbackQuery,
    callback_data: ReserveStart,
    state: FSMContext,
    session: AsyncSession,
    clock: Clock,
    policy: Policy,
    locale: str,
) -> None:
    await query.answer()
    if query.message is None or isinstance(query.message, InaccessibleMessage):
        return
    await _start(
        query.message,
        telegram_id=query.from_user.id,
        via=callback_data.via,
        state=state,
        session=session,
        clock=clock,
        policy=policy,
        locale=locale,
    )


async def _edit(query: CallbackQuery, text: str, **kwargs: object) -> None:
    if query.message is not None and not isinstance(query.message, InaccessibleMessage):
        await query.message.edit_text(text, **kwargs)  # type: ignore[arg-type]


async def day_picked(
    query: CallbackQuery,
    callback_data: ReserveDay,
    state: FSMContext,
    clock: Clock,
    policy: Policy,
    locale: str,
) -> None:
    if await state.get_state() != ReserveFlow.day.state:
        await query.answer(_("This button is no longer active."))
        return
    data = await state.get_data()
    day = day_of(callback_data.day)
    times = reservations.bookable_times(policy, day=day, now=clock.now(), timezone=data["tz"])
    if not times:
        await query.answer(_("That day can no longer be booked. /reserve to pick another."))
        return
    await state.set_state(ReserveFlow.time)
    await state.update_data(day=callback_data.day)
    await query.answer()
    await _edit(query, texts.ask_time(day_label(day, locale)), reply_markup=times_keyboard(times))


async def time_picked(
    query: CallbackQuery, callback_data: ReserveTime, state: FSMContext, policy: Policy
) -> None:
    if await state.get_state() != ReserveFlow.time.state:
        await query.answer(_("This button is no longer active."))
        return
    await state.set_state(ReserveFlow.party)
    await state.update_data(at=callback_data.at)
    await query.answer()
    keyboard = party_keyboard(policy.reservations.max_party)
    await _edit(query, texts.ask_party(), reply_markup=keyboard)


async def party_picked(
    query: CallbackQuery,
    callback_data: ReserveParty,
    state: FSMContext,
    session: AsyncSession,
    clock: Clock,
    policy: Policy,
    owner_ids: tuple[int, ...],
    locale: str,
    i18n: I18n,
) -> None:
    current = await state.get_state()
    if callback_data.party == 0 and current == ReserveFlow.note.state:  # "Send without a note"
        await query.answer()
        await _edit(query, texts.ask_note())
        if query.message is not None and not isinstance(query.message, InaccessibleMessage):
            await _submit(
                query.message,
                telegram_id=query.from_user.id,
                note="",
                state=state,
                session=session,
                clock=clock,
                policy=policy,
                owner_ids=owner_ids,
                locale=locale,
                i18n=i18n,
            )
        return
    if current != ReserveFlow.party.state or callback_data.party == 0:
        await query.answer(_("This button is no longer active."))
        return
    await state.set_state(ReserveFlow.note)
    await state.update_data(party=callback_data.party)
    await query.answer()
    await _edit(query, texts.ask_note(), reply_markup=send_keyboard())


async def note_written(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    clock: Clock,
    policy: Policy,
    owner_ids: tuple[int, ...],
    locale: str,
    i18n: I18n,
) -> None:
    assert message.from_user is not None
    await _submit(
        message,
        telegram_id=message.from_user.id,
        note=message.text or "",
        state=state,
        session=session,
        clock=clock,
        policy=policy,
        owner_ids=owner_ids,
        locale=locale,
        i18n=i18n,
    )


async def _submit(
    message: Message,
    *,
    telegram_id: int,
    note: str,
    state: FSMContext,
    session: AsyncSession,
    clock: Clock,
    policy: Policy,
    owner_ids: tuple[int, ...],
    locale: str,
    i18n: I18n,
) -> None:
    data = await state.get_data()
    await state.clear()
    try:
        found, created = await reservations.request(
            session,
            key=str(data["key"]),
            telegram_id=telegram_id,
            day=day_of(int(data["day"])),
            at=clock_of(int(data["at"])),
            party=int(data["party"]),
            note=note,
            via=str(data.get("via", "command")),
            policy=policy,
            now=clock.now(),
        )
    except ReservationProblem as problem:
        await message.answer(texts.problem_text(problem))
        return
    if not created:
        return
    await _tell_staff(
        session,
        owner_ids=owner_ids,
        i18n=i18n,
        found=found,
        text=lambda loc: texts.request_for_staff(found, policy, loc),
        dedupe=f"reservation:{found.id}:request",
        buttons=decide_keyboard_json,
        now=clock.now(),
    )
    await message.answer(texts.requested_text(found, locale))


async def proposal_answered(
    query: CallbackQuery,
    callback_data: ReserveAnswer,
    session: AsyncSession,
    clock: Clock,
    owner_ids: tuple[int, ...],
    locale: str,
    i18n: I18n,
) -> None:
    try:
        done = await reservations.answer_proposal(
            session,
            reservation_id=callback_data.reservation_id,
            telegram_id=query.from_user.id,
            accept=callback_data.accept,
            now=clock.now(),
        )
    except ReservationProblem as problem:
        await query.answer(texts.problem_text(problem), show_alert=True)
        return
    found = done.reservation
    if not done.changed:
        await query.answer(texts.answered_already(found))
        return
    await query.answer()
    await _edit(query, texts.answer_for_member(found, locale))
    await _tell_staff(
        session,
        owner_ids=owner_ids,
        i18n=i18n,
        found=found,
        text=lambda loc: texts.answer_for_staff(found, loc),
        dedupe=f"reservation:{found.id}:answer",
        now=clock.now(),
    )


# -- the managers -------------------------------------------------------------------------------


async def _tell_staff(
    session: AsyncSession,
    *,
    owner_ids: tuple[int, ...],
    i18n: I18n,
    found: ReservationInfo,
    text: Callable[[str], str],
    dedupe: str,
    now: datetime,
    buttons: Callable[[int], str] | None = None,
) -> None:
    """Every owner and the store's managers, each in their language, through the outbox."""
    for telegram_id in await feedback.staff_to_tell(
        session, owner_ids=owner_ids, store_id=found.store_id
    ):
        with i18n.use_locale(await their_locale(session, i18n, telegram_id)):
            rendered = text(i18n.current_locale)
            keyboard = buttons(found.id) if buttons is not None else None
        await outbox.enqueue_one(
            session,
            telegram_id=telegram_id,
            text=rendered,
            dedupe=f"{dedupe}:{telegram_id}",
            now=now,
            buttons=keyboard,
            about_member_id=found.member_id,
        )


async def _tell_member(
    session: AsyncSession,
    *,
    i18n: I18n,
    found: ReservationInfo,
    dedupe: str,
    now: datetime,
    buttons: bool = False,
) -> None:
    with i18n.use_locale(await their_locale(session, i18n, found.telegram_id)):
        text = texts.decided_for_member(found, i18n.current_locale)
        keyboard = answer_keyboard_json(found.id) if buttons else None
    await outbox.enqueue_one(
        session,
        telegram_id=found.telegram_id,
        member_id=found.member_id,
        text=text,
        dedupe=dedupe,
        now=now,
        buttons=keyboard,
    )


async def decided(
    query: CallbackQuery,
    callback_data: ReserveDecide,
    session: AsyncSession,
    role: Role,
    clock: Clock,
    policy: Policy,
    locale: str,
    i18n: I18n,
) -> None:
    """Confirm or Decline (once: a second press or manager finds it answered), or Propose
    another time (the times of that day still ahead, as buttons)."""
    if not role.at_least(Role.MANAGER):
        raise NotAllowed("reservations")
    reach = await roles.managed_stores(session, telegram_id=query.from_user.id, role=role)
    rid = callback_data.reservation_id
    try:
        if callback_data.action == "propose":
            found = await reservations.get(session, reservation_id=rid)
            if reach is not None and found.store_id not in reach:
                raise NotAllowed("reservations")
            if found.status != reservations.REQUESTED:
                await query.answer(texts.answered_already(found))
                return
            times = [
                t
                for t in reservations.bookable_times(
                    policy, day=found.local.date(), now=clock.now(), timezone=found.timezone
                )
                if clock_number(t) != clock_number(found.local.time())
            ]
            await query.answer()
            if query.message is not None and not isinstance(query.message, InaccessibleMessage):
                await query.message.answer(
                    texts.propose_prompt(found, locale), reply_markup=propose_keyboard(rid, times)
                )
            return
        done = await reservations.decide(
            session,
            reservation_id=rid,
            action=callback_data.action,
            by=query.from_user.id,
            stores_managed=reach,
            now=clock.now(),
        )
    except ReservationProblem as problem:
        await query.answer(texts.problem_text(problem), show_alert=True)
        return
    await _after_decision(query, session, done, i18n=i18n, locale=locale, now=clock.now())


async def proposed(
    query: CallbackQuery,
    callback_data: ReservePropose,
    session: AsyncSession,
    role: Role,
    clock: Clock,
    locale: str,
    i18n: I18n,
) -> None:
    if not role.at_least(Role.MANAGER):
        raise NotAllowed("reservations")
    reach = await roles.managed_stores(session, telegram_id=query.from_user.id, role=role)
    try:
        done = await reservations.propose(
            session,
            reservation_id=callback_data.reservation_id,
            at=clock_of(callback_data.at),
            by=query.from_user.id,
            stores_managed=reach,
            now=clock.now(),
        )
    except ReservationProblem as problem:
        await query.answer(texts.problem_text(problem), show_alert=True)
        return
    await _after_decision(query, session, done, i18n=i18n, locale=locale, now=clock.now())


async def _after_decision(
    query: CallbackQuery,
    session: AsyncSession,
    done: reservations.Outcome,
    *,
    i18n: I18n,
    locale: str,
    now: datetime,
) -> None:
    found = done.reservation
    if not done.changed:
        await query.answer(texts.answered_already(found))
        return
    await _tell_member(
        session,
        i18n=i18n,
        found=found,
        dedupe=f"reservation:{found.id}:{found.status}",
        now=now,
        buttons=found.status == reservations.PROPOSED,
    )
    await query.answer()
    if query.message is not None and not isinstance(query.message, InaccessibleMessage):
        shown = query.message.text or ""
        await query.message.edit_text(f"{shown}\n{texts.decided_for_staff(found, locale)}")


async def list_reservations(
    message: Message,
    session: AsyncSession,
    role: Role,
    clock: Clock,
    policy: Policy,
    locale: str,
) -> None:
    if not role.at_least(Role.MANAGER):
        raise NotAllowed("reservations")
    assert message.from_user is not None
    reach = await roles.managed_stores(session, telegram_id=message.from_user.id, role=role)
    found = await reservations.upcoming(session, stores_managed=reach, now=clock.now())
    await message.answer(texts.list_text(found, policy, locale))


def build_router() -> Router:
    router = Router(name="reservations")
    router.message.register(reserve_command, Command("reserve"))
    router.message.register(list_reservations, Command("reservations"))
    router.callback_query.register(reserve_button, ReserveStart.filter())
    router.callback_query.register(day_picked, ReserveDay.filter())
    router.callback_query.register(time_picked, ReserveTime.filter())
    router.callback_query.register(party_picked, ReserveParty.filter())
    router.callback_query.register(decided, ReserveDecide.filter())
    router.callback_query.register(proposed, ReservePropose.filter())
    router.callback_query.register(proposal_answered, ReserveAnswer.filter())
    router.message.register(
        note_written, StateFilter(ReserveFlow.note), F.text, ~F.text.startswith("/")
    )
    return router
