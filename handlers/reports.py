"""Reports for managers and owners: `/stats` by period (figures beside the period before's, and
charts) and `/campaigns` by kind, each with a period picker (or two dates after the command)."""

from __future__ import annotations

import asyncio

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty import campaign_kinds, period_reports, periods
from loyalty.clock import Clock
from loyalty.errors import NotAllowed
from loyalty.periods import Period, PeriodProblem
from loyalty.policy import Policy
from loyalty.stores import StoreInfo
from models.tables import Role
from ui import period_charts, period_texts
from ui.keyboards.periods import CAMPAIGNS, STATS, PeriodPick, picker
from ui.keyboards.reports import CampaignsPage


async def stats(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    role: Role,
    clock: Clock,
    policy: Policy,
    store: StoreInfo,
    locale: str,
    i18n: I18n,
    bot: Bot,
) -> None:
    """`/stats` (the last 4 weeks) or `/stats 2026-01-01 2026-03-31`."""
    if not role.at_least(Role.MANAGER):
        raise NotAllowed("stats")
    period = await _period_from_args(message, command, clock=clock, store=store)
    if period is not None:
        await send_stats(
            message,
            session,
            period=period,
            clock=clock,
            policy=policy,
            store=store,
            locale=locale,
            i18n=i18n,
            bot=bot,
        )


async def send_stats(
    message: Message,
    session: AsyncSession,
    *,
    period: Period,
    clock: Clock,
    policy: Policy,
    store: StoreInfo,
    locale: str,
    i18n: I18n,
    bot: Bot,
) -> None:
    """The figures against the period before, then the charts with the period picker."""
    figures = await period_reports.period_stats(
        session,
        store_id=store.id,
        currency=store.currency,
        period=period,
        policy=policy,
        now=clock.now(),
    )
    for chunk in period_texts.stats_messages(figures, policy=policy, store=store, locale=locale):
        await message.answer(chunk)
    title = period_texts.chart_title(figures, store=store, locale=locale)
    labels = period_charts.chart_labels(figures, title=title, locale=locale, i18n=i18n)
    png = await asyncio.to_thread(period_charts.period_png, figures, labels)
    await bot.send_photo(
        message.chat.id,
        BufferedInputFile(png, filename="stats.png"),
        caption=title,
        reply_markup=picker(STATS, current=period.key),
    )


async def campaigns(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    role: Role,
    clock: Clock,
    store: StoreInfo,
    locale: str,
) -> None:
    """`/campaigns` (the last 4 weeks) or `/campaigns 2026-01-01 2026-03-31`: by kind."""
    if not role.at_least(Role.MANAGER):
        raise NotAllowed("campaigns")
    period = await _period_from_args(message, command, clock=clock, store=store)
    if period is not None:
        await send_campaigns(
            message, session, period=period, clock=clock, store=store, locale=locale
        )


async def more_campaigns(
    query: CallbackQuery,
    session: AsyncSession,
    role: Role,
    clock: Clock,
    store: StoreInfo,
    locale: str,
) -> None:
    """A "More" button of the old list: the report by kind now."""
    if not role.at_least(Role.MANAGER):  # a stale button: they are no longer a manager
        raise NotAllowed("campaigns")
    await query.answer()
    if isinstance(query.message, Message):
        period = periods.current(periods.FOUR_WEEKS, now=clock.now(), timezone=store.timezone)
        await send_campaigns(
            query.message, session, period=period, clock=clock, store=store, locale=locale
        )


async def _period_from_args(
    message: Message, command: CommandObject, *, clock: Clock, store: StoreInfo
) -> Period | None:
    """The period a command names (two dates), or the last 4 weeks; None after telling the
    person what is wrong with their dates."""
    if not (command.args or "").strip():
        return periods.current(periods.FOUR_WEEKS, now=clock.now(), timezone=store.timezone)
    try:
        return periods.parse_custom(command.args or "", now=clock.now(), timezone=store.timezone)
    except PeriodProblem as problem:
        await message.answer(period_texts.period_problem_text(problem))
        return None


async def send_campaigns(
    message: Message,
    session: AsyncSession,
    *,
    period: Period,
    clock: Clock,
    store: StoreInfo,
    locale: str,
) -> None:
    rows = await campaign_kinds.by_kind(session, period=period, now=clock.now())
    chunks = period_texts.campaigns_messages(rows, period=period, store=store, locale=locale)
    for i, chunk in enumerate(chunks):
        last = i == len(chunks) - 1
        await message.answer(
            chunk, reply_markup=picker(CAMPAIGNS, current=period.key) if last else None
        )


class PeriodFlow(StatesGroup):
    custom = State()


async def period_picked(
    query: CallbackQuery,
    callback_data: PeriodPick,
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
    """A period under /stats or /campaigns; "custom" asks for two dates."""
    if not role.at_least(Role.MANAGER):
        raise NotAllowed("stats")
    await query.answer()
    if not isinstance(query.message, Message):
        return
    if callback_data.key == periods.CUSTOM:
        await state.set_state(PeriodFlow.custom)
        await state.update_data(report=callback_data.report)
        await query.message.answer(period_texts.custom_prompt())
        return
    period = periods.current(callback_data.key, now=clock.now(), timezone=store.timezone)
    await _send_report(
        query.message,
        callback_data.report,
        session,
        period=period,
        clock=clock,
        policy=policy,
        store=store,
        locale=locale,
        i18n=i18n,
        bot=bot,
    )


async def custom_range(
    message: Message,
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
    if not role.at_least(Role.MANAGER):
        await state.clear()
        raise NotAllowed("stats")
    try:
        period = periods.parse_custom(message.text or "", now=clock.now(), timezone=store.timezone)
    except PeriodProblem as problem:
        await message.answer(period_texts.period_problem_text(problem))
        return
    report = str((await state.get_data()).get("report", STATS))
    await state.clear()
    await _send_report(
        message,
        report,
        session,
        period=period,
        clock=clock,
        policy=policy,
        store=store,
        locale=locale,
        i18n=i18n,
        bot=bot,
    )


async def _send_report(
    message: Message,
    report: str,
    session: AsyncSession,
    *,
    period: Period,
    clock: Clock,
    policy: Policy,
    store: StoreInfo,
    locale: str,
    i18n: I18n,
    bot: Bot,
) -> None:
    if report == CAMPAIGNS:
        await send_campaigns(
            message, session, period=period, clock=clock, store=store, locale=locale
        )
    else:
        await send_stats(
            message,
            session,
            period=period,
            clock=clock,
            policy=policy,
            store=store,
            locale=locale,
            i18n=i18n,
            bot=bot,
        )


def build_router() -> Router:
    router = Router(name="reports")
    router.message.register(stats, Command("stats"))
    router.message.register(campaigns, Command("campaigns"))
    router.callback_query.register(more_campaigns, CampaignsPage.filter())
    # a key no picker offers (a forged or outdated button) falls through to the stale answer
    offered = F.key.in_((*periods.CHOICES, periods.CUSTOM))
    router.callback_query.register(period_picked, PeriodPick.filter(offered))
    router.message.register(
        custom_range, StateFilter(PeriodFlow.custom), F.text, ~F.text.startswith("/")
    )
    return router
