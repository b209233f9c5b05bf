"""The framework's ceiling for `bench.intake`: a bare aiogram bot whose handlers only answer.

Same journey as Regulars (a start link, a Pay button, an amount, an invoice, a payment), served
through aiogram's own webhook handler, with no database and no middleware of ours.
Configured by the benchmark through BARE_BOT_TOKEN, BARE_API_URL, BARE_WEBHOOK_URL, BARE_PORT.
"""

from __future__ import annotations

import asyncio
import os

from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.filters import CommandStart
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    PreCheckoutQuery,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

PAY = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="Pay", callback_data="pay")]]
)


def build_dispatcher() -> Dispatcher:
    dispatcher = Dispatcher()

    @dispatcher.message(CommandStart())
    async def start(message: Message) -> None:
        await message.answer("Welcome! Pay here to become a member.", reply_markup=PAY)

    @dispatcher.callback_query(F.data == "pay")
    async def pay(query: CallbackQuery, bot: Bot) -> None:
        await query.answer()
        await bot.send_message(query.from_user.id, "How much is your bill?")

    @dispatcher.message(F.successful_payment)
    async def paid(message: Message) -> None:
        await message.answer("Payment received.")

    @dispatcher.message(F.text)
    async def amount(message: Message) -> None:
        await message.answer_invoice(
            title="Bill",
            description="Your bill",
            payload="bill",
            currency="USD",
            prices=[LabeledPrice(label="Bill", amount=8650)],
            provider_token="284685063:TEST:bench",
        )

    @dispatcher.pre_checkout_query()
    async def pre_checkout(query: PreCheckoutQuery) -> None:
        await query.answer(ok=True)

    return dispatcher


async def main() -> None:
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["BARE_API_URL"]))
    bot = Bot(os.environ["BARE_BOT_TOKEN"], session=session)
    dispatcher = build_dispatcher()
    app = web.Application()
    SimpleRequestHandler(dispatcher, bot).register(app, path="/webhook")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", int(os.environ["BARE_PORT"])).start()
    await bot.set_webhook(os.environ["BARE_WEBHOOK_URL"])
    try:
        await asyncio.Event().wait()
    finally:
        await bot.session.close()
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
