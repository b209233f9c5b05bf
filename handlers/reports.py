"""Reports for managers and owners: `/stats` (figures as text and a chart) and `/campaigns`
(recent campaigns and their results, with a More button)."""

from __future__ import annotations

import asyncio

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty import reports
from loyalty.clock import Clock
from loyalty.errors import NotAllowed
from loyalty.policy import Policy
from loyalty.stores import StoreInfo
from models.tables import Role
from ui import charts, report_texts
from ui.keyboards.reports import CampaignsPage

MESSAGE_LIMIT = 4000
"""Below Telegram's 4096 characters per message."""


async def stats(
    message: Message,
    session: AsyncSession,
    role: Role,
    clock: Clock,
    policy: Policy,
    store: StoreInfo,
    locale: str,
    i18n: I18n,
    bot: Bot,
) -> None:
    if not role.at_least(Role.MANAGER):
        raise NotAllowed("stats")
    figures = await reports.store_stats(
        session, store_id=store.id, currency=store.currency, policy=policy, now=clock.now()
    )
    await message.answer(
        report_texts.stats_text(figures, policy=policy, store=store, locale=locale)
    )
    labels = report_texts.stats_labels(figures, policy=policy, locale=locale, i18n=i18n)
    png = await asyncio.to_thread(charts.stats_png, figures, labels)
    await bot.send_photo(
        message.chat.id,
        BufferedInputFile(png, filename="stats.png"),
        caption=report_texts.stats_caption(figures, locale=locale),
    )


async def campaigns(
    message: Message, session: AsyncSession, role: Role, clock: Clock, store: StoreInfo, locale: str
) -> None:
    if not role.at_least(Role.MANAGER):
        raise NotAllowed("campaigns")
    await _send_page(message, session, clock=clock, store=store, locale=locale, offset=0)


async def more_campaigns(
    query: CallbackQuery,
    callback_data: CampaignsPage,
    session: AsyncSession,
    role: Role,
    clock: Clock,
    store: StoreInfo,
    locale: str,
) -> None:
    if not role.at_least(Role.MANAGER):  # a stale button: they are no longer a manager
        raise NotAllowed("campaigns")
    await query.answer()
    if isinstance(query.message, Message):
        await _send_page(
            query.message,
            session,
            clock=clock,
            store=store,
            locale=locale,
            offset=callback_data.offset,
        )


async def _send_page(
    message: Message,
    session: AsyncSession,
    *,
    clock: Clock,
    store: StoreInfo,
    locale: str,
    offset: int,
) -> None:
    page = await reports.recent_campaigns(session, now=clock.now(), offset=offset)
    blocks = [
        report_texts.campaign_block(result, number=offset + i + 1, store=store, locale=locale)
        for i, result in enumerate(page.results)
    ]
    chunks = [report_texts.campaigns_header(offset=offset, empty=not blocks)]
    for block in blocks:  # several messages if a page is too long for one
        if len(chunks[-1]) + 2 + len(block) > MESSAGE_LIMIT:
            chunks.append(block)
        else:
            chunks[-1] += "\n\n" + block
    markup = None
    if page.more:
        markup = InlineKeyboardMarkup(
            inline_keyboard=[
                [
                    InlineKeyboardButton(
                        text=_("More"),
                        callback_data=CampaignsPage(offset=offset + len(page.results)).pack(),
                    )
                ]
            ]
        )
    for i, chunk in enumerate(chunks):
        await message.answer(chunk, reply_markup=markup if i == len(chunks) - 1 else None)


def build_router() -> Router:
    router = Router(name="reports")
    router.message.register(stats, Command("stats"))
    router.message.register(campaigns, Command("campaigns"))
    router.callback_query.register(more_campaigns, CampaignsPage.filter())
    return router
