"""Feedback: the stars of the post-visit question, "what went wrong?" after a low rating (sent at
once to every owner and manager), suggestions (`/suggest` or the button after a good rating),
and the managers' inbox `/feedback` with "Mark handled".

A rating counts once: the first press stands, a second press only thanks again. The role behind
"Mark handled" is the role of the press itself (the role middleware reads it for every update),
so a stale button in the chat of someone whose role was revoked does nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _
from babel.numbers import format_decimal
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.notify import member_not_told, tell
from handlers.receipts import their_locale
from loyalty import feedback, outbox
from loyalty.clock import Clock
from loyalty.errors import NotAllowed
from loyalty.feedback import FeedbackProblem
from loyalty.policy import Policy
from loyalty.stores import StoreInfo
from models.tables import Role
from ui.feedback import adopted_text, item_text, problem_text
from ui.keyboards.feedback import (
    AdoptSuggestion,
    MarkHandled,
    RateVisit,
    SuggestAbout,
    handled_keyboard,
    stars,
    suggestion_keyboard,
)
from ui.locales import babel_locale


class FeedbackFlow(StatesGroup):
    complaint = State()
    suggestion = State()


# -- the diner ----------------------------------------------------------------------------------


async def _tell_staff(
    session: AsyncSession,
    *,
    owner_ids: tuple[int, ...],
    i18n: I18n,
    text: Callable[[str], str],
    dedupe: str,
    store_id: int,
    now: datetime,
    about_member_id: int,
) -> None:
    """A message to every owner and the store's managers, in each one's language
    (`text(locale)`), through the outbox: sent at once, retried if need be, once per `dedupe`
    and person. It quotes the member `about_member_id`: their erasure blanks it."""
    staff = await feedback.staff_to_tell(session, owner_ids=owner_ids, store_id=store_id)
    for telegram_id in staff:
        with i18n.use_locale(await their_locale(session, i18n, telegram_id)):
            rendered = text(i18n.current_locale)
        await outbox.enqueue_one(
            session,
            telegram_id=telegram_id,
            text=rendered,
            dedupe=f"{dedupe}:{telegram_id}",
            now=now,
            about_member_id=about_member_id,
        )


async def rated(
    query: CallbackQuery,
    callback_data: RateVisit,
    session: AsyncSession,
    state: FSMContext,
    owner_ids: tuple[int, ...],
    policy: Policy,
    clock: Clock,
    i18n: I18n,
) -> None:
    try:
        outcome = await feedback.rate(
            session,
            visit_id=callback_data.visit_id,
            telegram_id=query.from_user.id,
            stars=callback_data.stars,
            low_rating=policy.feedback.low_rating,
            now=clock.now(),
        )
    except FeedbackProblem as problem:
        await query.answer(problem_text(problem), show_alert=True)
        return
    if not outcome.first:
        await query.answer(_("You have already rated this visit. Thank you!"))
        return
    shown = stars(outcome.rating)
    if outcome.low:

        def alert(locale: str) -> str:
            return _(
                "Low rating from {name} ({tier}, member #{id}): {stars}. They are being asked "
                "what went wrong; /feedback shows the inbox."
            ).format(
                name=outcome.display_name or "—",
                tier=policy.tiers.display_name(outcome.tier, locale),
                id=outcome.member_id,
                stars=shown,
            )

        await _tell_staff(
            session,
            owner_ids=owner_ids,
            i18n=i18n,
            text=alert,
            dedupe=f"low-rating:{outcome.feedback_id}",
            store_id=outcome.store_id,
            now=clock.now(),
            about_member_id=outcome.member_id,
        )
        await state.set_state(FeedbackFlow.complaint)
        await state.update_data(visit_id=outcome.visit_id)
        text = _(
            "Thank you for your rating: {stars}\nWe are sorry your visit was not good. What went "
            "wrong? Tell us in your next message: it goes straight to the manager."
        ).format(stars=shown)
        markup = None
    else:
        text = _(
            "Thank you for your rating: {stars}\nWe are glad you came! Anything we could do better?"
        ).format(stars=shown)
        markup = suggestion_keyboard(outcome.visit_id)
    await query.answer()
    if query.message is not None and not isinstance(query.message, InaccessibleMessage):
        await query.message.edit_text(text, reply_markup=markup)


async def suggest_pressed(
    query: CallbackQuery, callback_data: SuggestAbout, state: FSMContext
) -> None:
    await state.set_state(FeedbackFlow.suggestion)
    await state.update_data(visit_id=callback_data.visit_id)
    await query.answer()
    if query.message is not None:
        await query.message.answer(_("What would you suggest? Send it in your next message."))


async def complaint_written(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    owner_ids: tuple[int, ...],
    policy: Policy,
    clock: Clock,
    i18n: I18n,
) -> None:
    assert message.from_user is not None
    visit_id = int((await state.get_data())["visit_id"])
    now = clock.now()
    try:
        complaint = await feedback.complain(
            session,
            visit_id=visit_id,
            telegram_id=message.from_user.id,
            text=message.text,
            now=now,
        )
    except FeedbackProblem as problem:
        if problem.reason not in ("empty", "too_long"):  # they can try again; else it is over
            await state.clear()
        await message.answer(problem_text(problem))
        return
    await state.clear()

    def forward(locale: str) -> str:
        return _(
            "Complaint from {name} ({tier}, member #{id}), who rated the visit {stars}:\n"
            "{text}\n\n/feedback shows the inbox."
        ).format(
            name=complaint.display_name or "—",
            tier=policy.tiers.display_name(complaint.tier, locale),
            id=complaint.member_id,
            stars=stars(complaint.rating) if complaint.rating else "—",
            text=complaint.text,
        )

    await _tell_staff(
        session,
        owner_ids=owner_ids,
        i18n=i18n,
        text=forward,
        dedupe=f"complaint:{complaint.feedback_id}",
        store_id=complaint.store_id,
        now=now,
        about_member_id=complaint.member_id,
    )
    await message.answer(
        _("Thank you for telling us. The manager has your message and will look into it.")
    )


async def suggestion_written(
    message: Message, state: FSMContext, session: AsyncSession, clock: Clock
) -> None:
    assert message.from_user is not None
    visit_id = (await state.get_data()).get("visit_id")
    try:
        await feedback.suggest(
            session,
            telegram_id=message.from_user.id,
            text=message.text,
            visit_id=int(visit_id) if visit_id is not None else None,
            now=clock.now(),
        )
    except FeedbackProblem as problem:
        if problem.reason not in ("empty", "too_long"):
            await state.clear()
        await message.answer(problem_text(problem))
        return
    await state.clear()
    await message.answer(_("Thank you for your suggestion! The team reads every one."))


async def not_text(message: Message) -> None:
    """A photo or a sticker while we wait for words."""
    await message.answer(problem_text(FeedbackProblem("empty")))


async def suggest_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    state: FSMContext,
    clock: Clock,
) -> None:
    """`/suggest <text>`, or `/suggest` and then the text."""
    assert message.from_user is not None
    if not (command.args or "").strip():
        if not await feedback.is_member(session, telegram_id=message.from_user.id):
            await message.answer(problem_text(FeedbackProblem("not_member")))
            return
        await state.set_state(FeedbackFlow.suggestion)
        await state.update_data(visit_id=None)
        await message.answer(_("What would you suggest? Send it in your next message, or /cancel."))
        return
    try:
        await feedback.suggest(
            session, telegram_id=message.from_user.id, text=command.args, now=clock.now()
        )
    except FeedbackProblem as problem:
        await message.answer(problem_text(problem))
        return
    await state.clear()
    await message.answer(_("Thank you for your suggestion! The team reads every one."))


# -- the inbox ----------------------------------------------------------------------------------


async def inbox(
    message: Message,
    role: Role,
    session: AsyncSession,
    clock: Clock,
    store: StoreInfo,
    policy: Policy,
    locale: str,
) -> None:
    """`/feedback`: what diners said that nobody handled yet, complaints first."""
    if not role.at_least(Role.MANAGER):
        raise NotAllowed("feedback")
    assert message.from_user is not None
    box = await feedback.inbox(
        session, telegram_id=message.from_user.id, role=role, now=clock.now()
    )
    days = feedback.SUMMARY_DAYS
    lines = [_("Feedback inbox")]
    if box.average is not None:
        lines.append(
            ngettext(
                "Ratings of the last {days} days: {average} on average, from {n} rating.",
                "Ratings of the last {days} days: {average} on average, from {n} ratings.",
                box.ratings,
            ).format(
                days=days,
                average=format_decimal(box.average, format="0.0", locale=babel_locale(locale)),
                n=box.ratings,
            )
        )
    else:
        lines.append(_("No ratings in the last {days} days.").format(days=days))
    if not box.open_count:
        lines.append(_("Nothing open: everything has been handled."))
    else:
        lines.append(
            ngettext(
                "{n} open item, complaints first:",
                "{n} open items, complaints first:",
                box.open_count,
            ).format(n=box.open_count)
        )
        if box.open_count > len(box.items):
            lines.append(
                _("Showing the first {shown}: mark them handled to see the others.").format(
                    shown=len(box.items)
                )
            )
    await message.answer("\n".join(lines))
    for item in box.items:
        await message.answer(
            item_text(item, policy, store, locale),
            reply_markup=handled_keyboard(item.id, suggestion=item.kind == feedback.SUGGESTION),
        )


async def mark_handled(
    query: CallbackQuery,
    callback_data: MarkHandled,
    role: Role,
    session: AsyncSession,
    clock: Clock,
) -> None:
    if not role.at_least(Role.MANAGER):  # the role now, not when the inbox was shown
        raise NotAllowed("feedback")
    try:
        done = await feedback.mark_handled(
            session,
            feedback_id=callback_data.feedback_id,
            by_telegram_id=query.from_user.id,
            role=role,
            now=clock.now(),
        )
    except FeedbackProblem as problem:
        await query.answer(problem_text(problem), show_alert=True)
        return
    if not done:
        await query.answer(_("This was already handled."), show_alert=True)
        return
    await query.answer(_("Marked as handled."))
    if query.message is not None and not isinstance(query.message, InaccessibleMessage):
        handled = _("✓ Handled by {name}.").format(name=query.from_user.first_name)
        await query.message.edit_text(f"{query.message.text or ''}\n\n{handled}")


async def adopt_pressed(
    query: CallbackQuery,
    callback_data: AdoptSuggestion,
    role: Role,
    session: AsyncSession,
    clock: Clock,
    policy: Policy,
    store: StoreInfo,
    i18n: I18n,
    bot: Bot,
) -> None:
    """A manager adopts a suggestion: the member is thanked (with the policy's coupon)."""
    if not role.at_least(Role.MANAGER):  # the role now, not when the inbox was shown
        raise NotAllowed("feedback")
    try:
        adopted = await feedback.adopt(
            session,
            feedback_id=callback_data.feedback_id,
            by_telegram_id=query.from_user.id,
            role=role,
            policy=policy,
            now=clock.now(),
        )
    except FeedbackProblem as problem:
        await query.answer(problem_text(problem), show_alert=True)
        return
    if adopted is None:
        await query.answer(_("This suggestion was adopted already."), show_alert=True)
        return
    await query.answer(_("Adopted: the member is thanked."))
    if query.message is not None and not isinstance(query.message, InaccessibleMessage):
        done = _("★ Adopted by {name}.").format(name=query.from_user.first_name)
        await query.message.edit_text(f"{query.message.text or ''}\n\n{done}")
    if adopted.telegram_id is None:
        return
    with i18n.use_locale(await their_locale(session, i18n, adopted.telegram_id)):
        their = i18n.current_locale
        text = adopted_text(adopted, policy, store=store, locale=their)
    not_told = await tell(bot.send_message(adopted.telegram_id, text), chat_id=adopted.telegram_id)
    if not_told is not None and query.message is not None:
        await bot.send_message(query.from_user.id, member_not_told(not_told))


def build_router() -> Router:
    router = Router(name="feedback")
    router.callback_query.register(adopt_pressed, AdoptSuggestion.filter())
    router.message.register(suggest_command, Command("suggest"))
    router.message.register(inbox, Command("feedback"))
    router.callback_query.register(rated, RateVisit.filter())
    router.callback_query.register(suggest_pressed, SuggestAbout.filter())
    router.callback_query.register(mark_handled, MarkHandled.filter())
    # the free-text steps: after every command router (handlers.get_routers puts this one last
    # of them), so a command sent instead of the text is still a command
    router.message.register(
        complaint_written, StateFilter(FeedbackFlow.complaint), F.text, ~F.text.startswith("/")
    )
    router.message.register(
        suggestion_written, StateFilter(FeedbackFlow.suggestion), F.text, ~F.text.startswith("/")
    )
    router.message.register(not_text, StateFilter(FeedbackFlow), ~F.text)
    return router
