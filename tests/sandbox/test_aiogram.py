"""A real aiogram Bot against the emulator: the wire format is what aiogram sends and expects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.filters import CommandObject, CommandStart
from aiogram.methods import SendMessage
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    PreCheckoutQuery,
)
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web

from tests.sandbox.conftest import ALICE, BOB, Server, make_png


@pytest.fixture
async def bot(server: Server) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(server.url))
    bot = Bot(server.emulator.token, session=session)
    yield bot
    await bot.session.close()


async def test_aiogram_methods_round_trip(server: Server, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.username == "RegularsSandboxBot"

    keyboard = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Join 🎉", callback_data="join")]]
    )
    sent = await bot.send_message(
        ALICE, "<b>Hello</b> 世界 😀", parse_mode="HTML", reply_markup=keyboard
    )
    assert sent.text == "Hello 世界 😀"
    assert sent.entities is not None
    assert sent.entities[0].type == "bold"
    assert sent.reply_markup is not None
    assert sent.reply_markup.model_dump() == keyboard.model_dump()

    photo = await bot.send_photo(
        ALICE,
        BufferedInputFile(make_png(320, 200), filename="qr.png"),
        caption="Scan me",
        reply_markup=keyboard,
    )
    assert photo.photo is not None
    assert (photo.photo[-1].width, photo.photo[-1].height) == (320, 200)
    assert photo.caption == "Scan me"
    reused = await bot.send_photo(ALICE, photo.photo[-1].file_id)
    assert reused.photo is not None
    assert reused.photo[-1].file_id == photo.photo[-1].file_id
    file = await bot.get_file(photo.photo[-1].file_id)
    assert file.file_path

    edited = await bot.edit_message_text(
        text="Edited", chat_id=ALICE, message_id=sent.message_id, reply_markup=keyboard
    )
    assert isinstance(edited, Message)
    assert edited.text == "Edited"
    assert edited.edit_date is not None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text(
            text="Edited", chat_id=ALICE, message_id=sent.message_id, reply_markup=keyboard
        )

    invoice = await bot.send_invoice(
        ALICE,
        title="Membership",
        description="One year of Regulars",
        payload="member:1001",
        currency="XTR",
        prices=[LabeledPrice(label="Membership", amount=250)],
    )
    assert invoice.invoice is not None
    assert invoice.invoice.total_amount == 250

    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    await bot.set_my_commands(
        [BotCommand(command="help", description="帮助")],
        scope=BotCommandScopeChat(chat_id=ALICE),
        language_code="en",
    )
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    scoped = await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=ALICE), language_code="en")
    assert [c.description for c in scoped] == ["帮助"]
    await bot.send_chat_action(ALICE, "typing")
    assert await bot.delete_message(ALICE, sent.message_id) is True

    texts = [m["text"] or m["caption"] for m in server.emulator.inbox(ALICE)]
    assert texts == ["Scan me", None, None]
    assert server.emulator.stats()["calls"]["sendPhoto"] == 2


async def test_aiogram_sees_telegram_errors(server: Server, bot: Bot) -> None:
    with pytest.raises(TelegramForbiddenError, match="can't initiate conversation"):
        await bot.send_message(BOB, "hi")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(31337, "hi")
    server.emulator.set_limits(None, 1)
    await bot.send_message(ALICE, "one")
    with pytest.raises(TelegramRetryAfter) as caught:
        await bot.send_message(ALICE, "two")
    assert caught.value.retry_after >= 1


async def test_aiogram_polling_buttons_and_payments(server: Server, bot: Bot) -> None:
    dispatcher = Dispatcher()

    @dispatcher.message(CommandStart())
    async def start(message: Message, command: CommandObject) -> None:
        keyboard = InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Yes", callback_data="yes")]]
        )
        await message.answer(f"Welcome, table {command.args}", reply_markup=keyboard)

    @dispatcher.callback_query(F.data == "yes")
    async def yes(query: CallbackQuery) -> None:
        await query.answer("Great", show_alert=False)

    @dispatcher.pre_checkout_query()
    async def checkout(query: PreCheckoutQuery) -> None:
        await query.answer(ok=True)

    @dispatcher.message(F.successful_payment)
    async def paid(message: Message) -> None:
        assert message.successful_payment is not None
        await message.answer(f"Paid {message.successful_payment.total_amount}")

    polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False))
    try:
        status, opened = await server.post(
            f"/sandbox/users/{ALICE}/open", {"url": "https://t.me/RegularsSandboxBot?start=T7"}
        )
        assert status == 200
        assert opened["text"] == "/start T7"
        welcome = await wait_for_text(server, "Welcome, table T7")
        status, pressed = await server.post(
            f"/sandbox/users/{ALICE}/press",
            {"message_id": welcome["message_id"], "data": "yes", "wait": 5},
        )
        assert pressed["answer"] == {"text": "Great", "show_alert": False}

        invoice = await bot.send_invoice(
            ALICE,
            title="Membership",
            description="One year",
            payload="member:1001",
            currency="XTR",
            prices=[LabeledPrice(label="Membership", amount=99)],
        )
        status, result = await server.post(
            f"/sandbox/users/{ALICE}/pay", {"message_id": invoice.message_id}
        )
        assert result["paid"] is True
        await wait_for_text(server, "Paid 99")
    finally:
        await dispatcher.stop_polling()
        await polling


async def test_aiogram_webhook_reply_in_response(server: Server, bot: Bot) -> None:
    dispatcher = Dispatcher()

    @dispatcher.message()
    async def echo(message: Message) -> SendMessage:
        return message.answer(f"echo: {message.text}")

    app = web.Application()
    SimpleRequestHandler(
        dispatcher, bot, handle_in_background=False, secret_token="hook-secret"
    ).register(app, path="/hook")
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="hook-secret")
        await server.user_says(ALICE, "ping")
        await wait_for_text(server, "echo: ping")
        info = await bot.get_webhook_info()
        assert info.pending_update_count == 0
        assert info.last_error_message is None
        await bot.delete_webhook()
    finally:
        await runner.cleanup()


async def wait_for_text(server: Server, text: str) -> dict[str, object]:
    for _ in range(250):
        for message in server.emulator.inbox(ALICE):
            if message["text"] == text:
                return message
        await asyncio.sleep(0.02)
    raise AssertionError(f"the bot never sent {text!r}")
