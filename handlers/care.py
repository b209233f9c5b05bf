"""The care desk: `/care` (the list on demand), an entry's buttons (Write to them, Ask why,
Done, Later — the role and the store checked at the press), the manager's note, and the
member's side of the survey "why don't we see you more?" (one tap, or their own words after
"other"; the answer reaches the store's managers at once through the outbox)."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty import care, feedback, outbox, stores, telegram_users
from loyalty.care import Answer, CareProblem
from loyalty.clock import Clock
from loyalty.errors import NotAllowed
from loyalty.policy import Policy
from loyalty.stores import StoreInfo
from models.tables import Role
from ui import care as texts
from ui.keyboards.care import (
    ASK,
    DONE,
    LATER,
    WRITE,
    CareAct,
    WhyAnswer,
    list_keyboard,
    without_entry,
)
from ui.locales import locale_from_language_code


class CareFlow(StatesGroup):
    note = State()
    why_text = State()


async def _store(session: AsyncSession, store_id: int, default: StoreInfo) -> StoreInfo:
    return await stores.store_info(session, store_id=store_id) or default


async def show_list(
    message: Message,
    session: AsyncSession,
    role: Role,
    clock: Clock,
    policy: Policy,
    store: StoreInfo,
    locale: str,
) -> None:
    """`/care`: who needs a personal touch now, in the stores this person manages."""
    if not role.at_least(Role.MANAGER):
        raise NotAllowed("care")
    assert message.from_user is not None
    now = clock.now()
    try:
        listing = await care.todays_list(
            session, telegram_id=message.from_user.id, role=role, policy=policy, now=now
        )
    except CareProblem as problem:
        await message.answer(texts.problem_text(problem, timezone=store.timezone, locale=locale))
        return
    if not listing.items:
        await message.answer(texts.nothing_text())
        return
    by_store: dict[int, list[care.Item]] = {}
    for item in listing.items:
        by_store.setdefault(item.store_id, []).append(item)
    last = listing.items[-1].store_id
    for store_id, items in by_store.items():
        info = await _store(session, store_id, store)
        for text, entries in texts.list_messages(
            items,
            store=info,
            policy=policy,
            more=listing.more if store_id == last else 0,
            locale=locale,
            now=now,
        ):
            await message.answer(text, reply_markup=list_keyboard(entries) if entries else None)


async def _mark(
    bot: Bot,
    *,
    chat_id: int,
    message_id: int,
    text: str,
    markup: InlineKeyboardMarkup | None,
    entry_id: int,
    line: str,
) -> None:
    """The list message gets what was done to one entry, whose buttons go."""
    await bot.edit_message_text(
        chat_id=chat_id,
        message_id=message_id,
        text=f"{text}\n\n{line}",
        reply_markup=without_entry(markup, entry_id),
    )


def _shown(query: CallbackQuery) -> Message | None:
    message = query.message
    return message if isinstance(message, Message) else None


async def pressed(
    query: CallbackQuery,
    callback_data: CareAct,
    session: AsyncSession,
    state: FSMContext,
    role: Role,
    clock: Clock,
    policy: Policy,
    store: StoreInfo,
    locale: str,
    i18n: I18n,
    bot: Bot,
) -> None:
    """An entry's button: the role now, not when the list went out."""
    if not role.at_least(Role.MANAGER):
        raise NotAllowed("care")
    who, now, n = query.from_user, clock.now(), callback_data.n
    entry, action = callback_data.entry_id, callback_data.action
    shown = _shown(query)
    try:
        if action == WRITE:
            item = await care.can_write(
                session, entry_id=entry, telegram_id=who.id, role=role, policy=policy
            )
            await state.set_state(CareFlow.note)
            await state.update_data(entry_id=entry, n=n)
            if shown is not None:
                await state.update_data(
                    message_id=shown.message_id,
                    text=shown.text or "",
                    markup=shown.reply_markup.model_dump_json() if shown.reply_markup else None,
                )
            await query.answer()
            await bot.send_message(who.id, texts.note_prompt(item))
            return
        if action == ASK:
            sent = await care.ask_why(
                session,
                entry_id=entry,
                telegram_id=who.id,
                role=role,
                policy=policy,
                now=now,
                render=texts.survey_render(i18n),
            )
            line = texts.handled_line(care.ASKED, n=n, by=who.first_name)
            await query.answer(texts.sent_text(sent, timezone=store.timezone, locale=locale))
        elif action == DONE:
            await care.done(session, entry_id=entry, telegram_id=who.id, role=role, now=now)
            line = texts.handled_line(care.HANDLED, n=n, by=who.first_name)
            await query.answer(line)
        elif action == LATER:
            until = await care.later(
                session, entry_id=entry, telegram_id=who.id, role=role, policy=policy, now=now
            )
            line = texts.later_line(n=n, until=until, timezone=store.timezone, locale=locale)
            await query.answer(line)
        else:
            raise CareProblem("unknown")
    except CareProblem as problem:
        text = texts.problem_text(problem, timezone=store.timezone, locale=locale)
        await query.answer(text, show_alert=True)
        return
    if shown is not None:
        await _mark(
            bot,
            chat_id=shown.chat.id,
            message_id=shown.message_id,
            text=shown.text or "",
            markup=shown.reply_markup,
            entry_id=entry,
            line=line,
        )


async def note_written(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    role: Role,
    clock: Clock,
    policy: Policy,
    store: StoreInfo,
    locale: str,
    i18n: I18n,
    bot: Bot,
) -> None:
    """The manager's note: to the member's chat, through the outbox."""
    if not role.at_least(Role.MANAGER):
        await state.clear()
        raise NotAllowed("care")
    assert message.from_user is not None
    data = await state.get_data()
    entry = int(data["entry_id"])
    try:
        sent = await care.send_note(
            session,
            entry_id=entry,
            telegram_id=message.from_user.id,
            role=role,
            note=message.text,
            policy=policy,
            now=clock.now(),
            render=texts.note_render(i18n, manager=message.from_user.first_name),
        )
    except CareProblem as problem:
        if problem.reason not in ("empty", "too_long"):  # they can try again; else it is over
            await state.clear()
        await message.answer(texts.problem_text(problem, timezone=store.timezone, locale=locale))
        return
    await state.clear()
    await message.answer(texts.sent_text(sent, timezone=store.timezone, locale=locale))
    if data.get("message_id") is not None:  # the list it was pressed on says so
        markup = data.get("markup")
        await _mark(
            bot,
            chat_id=message.chat.id,
            message_id=int(data["message_id"]),
            text=str(data.get("text", "")),
            markup=InlineKeyboardMarkup.model_validate_json(markup) if markup else None,
            entry_id=entry,
            line=texts.handled_line(
                care.WROTE, n=int(data.get("n", 0)), by=message.from_user.first_name
            ),
        )


# -- the member's answer -----------------------------------------------------------------------


async def _tell_managers(
    session: AsyncSession,
    *,
    answer: Answer,
    owner_ids: tuple[int, ...],
    policy: Policy,
    i18n: I18n,
    clock: Clock,
) -> None:
    staff = await feedback.staff_to_tell(session, owner_ids=owner_ids, store_id=answer.store_id)
    for telegram_id in staff:
        chosen, code = await telegram_users.locale_of(session, telegram_id=telegram_id)
        locale = chosen or locale_from_language_code(code, i18n.default_locale)
        with i18n.use_locale(locale):
            text = texts.survey_answer_alert(answer, policy=policy, locale=locale)
        await outbox.enqueue_one(
            session,
            telegram_id=telegram_id,
            text=text,
            dedupe=f"why-answer:{answer.survey_id}:{int(bool(answer.text))}:{telegram_id}",
            now=clock.now(),
            about_member_id=answer.member_id,  # it quotes them: their erasure blanks it
        )


async def why_answered(
    query: CallbackQuery,
    callback_data: WhyAnswer,
    session: AsyncSession,
    state: FSMContext,
    owner_ids: tuple[int, ...],
    clock: Clock,
    policy: Policy,
    store: StoreInfo,
    locale: str,
    i18n: I18n,
) -> None:
    try:
        answer = await care.answer(
            session,
            survey_id=callback_data.survey_id,
            telegram_id=query.from_user.id,
            reason=callback_data.reason,
            now=clock.now(),
        )
    except CareProblem as problem:
        text = texts.problem_text(problem, timezone=store.timezone, locale=locale)
        await query.answer(text, show_alert=True)
        return
    if not answer.first:
        answered = CareProblem("answered")
        await query.answer(texts.problem_text(answered, timezone=store.timezone, locale=locale))
        return
    if answer.reason == care.OTHER:
        await state.set_state(CareFlow.why_text)
        await state.update_data(survey_id=answer.survey_id)
    else:
        await _tell_managers(
            session, answer=answer, owner_ids=owner_ids, policy=policy, i18n=i18n, clock=clock
        )
    await query.answer()
    if query.message is not None and not isinstance(query.message, InaccessibleMessage):
        await query.message.edit_text(texts.survey_thanks(answer.reason))


async def why_written(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    owner_ids: tuple[int, ...],
    clock: Clock,
    policy: Policy,
    store: StoreInfo,
    locale: str,
    i18n: I18n,
) -> None:
    assert message.from_user is not None
    survey_id = int((await state.get_data())["survey_id"])
    try:
        answer = await care.answer_text(
            session,
            survey_id=survey_id,
            telegram_id=message.from_user.id,
            text=message.text,
            now=clock.now(),
        )
    except CareProblem as problem:
        if problem.reason not in ("empty", "too_long"):
            await state.clear()
        await message.answer(texts.problem_text(problem, timezone=store.timezone, locale=locale))
        return
    await state.clear()
    await _tell_managers(
        session, answer=answer, owner_ids=owner_ids, policy=policy, i18n=i18n, clock=clock
    )
    await message.answer(texts.survey_words_thanks())


def build_router() -> Router:
    router = Router(name="care")
    router.message.register(show_list, Command("care"))
    router.callback_query.register(pressed, CareAct.filter())
    router.callback_query.register(why_answered, WhyAnswer.filter())
    # the free-text steps: after every command router (handlers.get_routers puts this one after
    # them), so a command sent instead of the text is still a command
    router.message.register(
        note_written, StateFilter(CareFlow.note), F.text, ~F.text.startswith("/")
    )
    router.message.register(
        why_written, StateFilter(CareFlow.why_text), F.text, ~F.text.startswith("/")
    )
    return router
