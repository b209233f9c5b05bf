"""python-telegram-bot 22 against the emulator: every method it implements, every update kind it
produces, and Telegram's error mapping, as an independent client sees them over HTTP.

Where PTB and the emulator disagree, Telegram's documented behaviour decides (the emulator is
fixed, not the test). Each assertion is on what PTB parsed into its own models.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    ChatMemberBanned,
    ChatMemberMember,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    MenuButtonCommands,
    MenuButtonWebApp,
    Message,
    MessageEntity,
    Update,
    WebAppInfo,
)
from telegram.constants import ChatAction, ChatType, ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, RetryAfter

from tests.sandbox.conftest import ALICE, BOB, Receiver, Server, make_png, receiver

__all__ = ["receiver"]  # the webhook endpoint fixture of tests/sandbox

JOIN = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("Join 🎉", callback_data="join")],
        [InlineKeyboardButton("Menu", url="https://example.com/menu")],
    ]
)
LATER = InlineKeyboardMarkup([[InlineKeyboardButton("Later", callback_data="later")]])


def _said(description: str) -> re.Pattern[str]:
    """Telegram's error text as PTB shows it (PTB capitalises only its first letter)."""
    return re.compile(re.escape(description), re.IGNORECASE)


def _pairs(commands: Sequence[BotCommand]) -> list[tuple[str, str]]:
    return [(command.command, command.description) for command in commands]


async def _person(server: Server, user_id: int, action: str, body: Any = None) -> dict[str, Any]:
    status, answer = await server.post(f"/sandbox/users/{user_id}/{action}", body)
    assert status == 200, answer
    result: dict[str, Any] = answer
    return result


async def test_messages_photos_documents_and_files(server: Server, ptb: Bot) -> None:
    assert (ptb.bot.username, ptb.bot.is_bot) == ("RegularsSandboxBot", True)
    assert ptb.bot.id == int(server.emulator.token.split(":")[0])

    sent = await ptb.send_message(
        ALICE, "😀 <b>Hello</b> 世界", parse_mode=ParseMode.HTML, reply_markup=JOIN
    )
    assert sent.text == "😀 Hello 世界"
    assert sent.chat.type == ChatType.PRIVATE
    assert sent.chat.id == ALICE
    assert sent.from_user is not None
    assert sent.from_user.id == ptb.bot.id
    assert sent.reply_markup == JOIN
    # Offsets count UTF-16 code units (the emoji is two): PTB finds the bold word with them.
    assert list(sent.parse_entities().items()) == [(MessageEntity("bold", 3, 5), "Hello")]
    # Telegram marks links in plain text as url entities by itself.
    linked = await ptb.send_message(ALICE, "Our menu: https://example.com/menu.")
    assert list(linked.parse_entities([MessageEntity.URL]).values()) == ["https://example.com/menu"]

    png = make_png(320, 200)
    photo = await ptb.send_photo(
        ALICE, png, caption="Scan <i>me</i>", parse_mode=ParseMode.HTML, filename="qr.png",
        has_spoiler=True, show_caption_above_media=True,
    )  # fmt: skip
    largest = photo.photo[-1]
    assert (largest.width, largest.height) == (320, 200)
    assert (photo.has_media_spoiler, photo.show_caption_above_media) == (True, True)
    assert [size.width for size in photo.photo] == sorted(size.width for size in photo.photo)
    assert photo.caption == "Scan me"
    assert list(photo.parse_caption_entities().values()) == ["me"]
    again = await ptb.send_photo(ALICE, largest)  # a PhotoSize: sent again by its file_id
    assert again.photo[-1].file_unique_id == largest.file_unique_id
    file = await ptb.get_file(largest.file_id)
    assert file.file_size == len(png)
    assert bytes(await file.download_as_bytearray()) == png

    csv = "name,visits\nDana,2\n李娜,1\n".encode()
    document = await ptb.send_document(ALICE, csv, filename="members.csv", caption="Export")
    assert document.document is not None
    assert (document.document.file_name, document.document.mime_type) == (
        "members.csv",
        "text/csv",
    )
    assert document.document.file_size == len(csv)
    resent = await ptb.send_document(ALICE, document.document.file_id)
    assert resent.document is not None
    assert resent.document.file_unique_id == document.document.file_unique_id
    downloaded = await (await ptb.get_file(document.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == csv
    with pytest.raises(BadRequest, match=_said("can't use file of type Document as Photo")):
        await ptb.send_photo(ALICE, document.document.file_id)

    assert await ptb.send_chat_action(ALICE, ChatAction.UPLOAD_PHOTO) is True
    chat = await ptb.get_chat(ALICE)
    assert (chat.type, chat.first_name, chat.username) == (ChatType.PRIVATE, "Alice", "alice_w")

    assert await ptb.delete_message(ALICE, sent.message_id) is True
    with pytest.raises(BadRequest, match=_said("message to delete not found")):
        await ptb.delete_message(ALICE, sent.message_id)


async def test_edits_and_the_keyboard_after_a_text_edit(server: Server, ptb: Bot) -> None:
    # A text edit that sends the keyboard again keeps it; removing it right after works.
    kept = await ptb.send_message(ALICE, "Join us?", reply_markup=JOIN)
    edited = await ptb.edit_message_text(
        "Join us tonight?", ALICE, kept.message_id, reply_markup=JOIN
    )
    assert isinstance(edited, Message)
    assert (edited.text, edited.reply_markup) == ("Join us tonight?", JOIN)
    assert edited.edit_date is not None
    removed = await ptb.edit_message_reply_markup(ALICE, kept.message_id)
    assert isinstance(removed, Message)
    assert removed.reply_markup is None
    assert removed.text == "Join us tonight?"

    # editMessageText replaces the whole message: Telegram's server takes the edit's
    # reply_markup as the new one ("pass null if none"), so a text edit without one drops the
    # inline keyboard, and removing it afterwards is "message is not modified" — on Telegram too.
    dropped = await ptb.send_message(ALICE, "Rate your meal", reply_markup=JOIN)
    plain = await ptb.edit_message_text("Thanks for rating!", ALICE, dropped.message_id)
    assert isinstance(plain, Message)
    assert plain.reply_markup is None
    with pytest.raises(BadRequest, match=_said("message is not modified")):
        await ptb.edit_message_reply_markup(ALICE, dropped.message_id)
    with pytest.raises(BadRequest, match=_said("message is not modified")):
        await ptb.edit_message_text("Thanks for rating!", ALICE, dropped.message_id)

    # Captions and keyboards of a photo.
    photo = await ptb.send_photo(
        ALICE, make_png(40, 30), caption="Table 3", reply_markup=JOIN,
        show_caption_above_media=True,
    )  # fmt: skip
    recaptioned = await ptb.edit_message_caption(
        ALICE, photo.message_id, caption="Table <b>4</b>", parse_mode=ParseMode.HTML,
        reply_markup=LATER,
    )  # fmt: skip
    assert isinstance(recaptioned, Message)
    assert recaptioned.caption == "Table 4"
    assert list(recaptioned.parse_caption_entities().values()) == ["4"]
    assert recaptioned.reply_markup == LATER
    assert not recaptioned.show_caption_above_media  # like the markup: what the edit says
    swapped = await ptb.edit_message_reply_markup(ALICE, photo.message_id, reply_markup=JOIN)
    assert isinstance(swapped, Message)
    assert swapped.reply_markup == JOIN
    with pytest.raises(BadRequest, match=_said("there is no text in the message to edit")):
        await ptb.edit_message_text("Table 5", ALICE, photo.message_id)

    # The person's own message (Alice said "hello" first) is not the bot's to edit.
    with pytest.raises(BadRequest, match=_said("message can't be edited")):
        await ptb.edit_message_text("hi", ALICE, 1)


async def test_every_update_kind_parses_into_ptb_models(server: Server, ptb: Bot) -> None:
    # Kinds of update the emulator produces: message (text with a command, photo, successful
    # payment), callback_query, pre_checkout_query and my_chat_member.
    opened = await _person(
        server, ALICE, "open", {"url": "https://t.me/RegularsSandboxBot?start=T7"}
    )
    png = make_png(64, 48)
    await _person(
        server,
        ALICE,
        "send_photo",
        {"photo_base64": base64.b64encode(png).decode(), "caption": "our table"},
    )
    question = await ptb.send_message(ALICE, "Join?", reply_markup=JOIN)
    await _person(server, ALICE, "press", {"message_id": question.message_id, "data": "join"})
    await _person(server, BOB, "block")
    await _person(server, BOB, "unblock")

    updates = await ptb.get_updates(timeout=0)
    assert [update.update_id for update in updates] == list(
        range(updates[0].update_id, updates[0].update_id + 5)
    )
    start, sent_photo, pressed, blocked, unblocked = updates
    assert start.update_id == opened["update_id"]

    assert start.message is not None
    assert start.message.text == "/start T7"
    assert list(start.message.parse_entities([MessageEntity.BOT_COMMAND]).values()) == ["/start"]
    assert start.effective_user is not None
    assert (start.effective_user.id, start.effective_user.language_code) == (ALICE, "en-US")

    assert sent_photo.message is not None
    assert sent_photo.message.caption == "our table"
    person_photo = sent_photo.message.photo[-1]
    assert (person_photo.width, person_photo.height) == (64, 48)
    downloaded = await (await ptb.get_file(person_photo.file_id)).download_as_bytearray()
    assert bytes(downloaded) == png

    query = pressed.callback_query
    assert query is not None
    assert (query.data, query.from_user.id) == ("join", ALICE)
    assert isinstance(query.message, Message)
    assert query.message.message_id == question.message_id
    assert query.message.reply_markup == JOIN
    assert query.chat_instance
    assert await ptb.answer_callback_query(query.id, text="Welcome!") is True
    with pytest.raises(BadRequest, match=_said("query is too old")):
        await ptb.answer_callback_query(query.id, text="Again")
    _, history = await server.get(f"/sandbox/users/{ALICE}/history")
    answers = [item for item in history["messages"] if item["kind"] == "callback_answer"]
    assert [answer["text"] for answer in answers] == ["Welcome!"]

    assert blocked.my_chat_member is not None
    assert isinstance(blocked.my_chat_member.old_chat_member, ChatMemberMember)
    assert isinstance(blocked.my_chat_member.new_chat_member, ChatMemberBanned)
    assert blocked.my_chat_member.new_chat_member.user.id == ptb.bot.id
    assert unblocked.my_chat_member is not None
    assert isinstance(unblocked.my_chat_member.new_chat_member, ChatMemberMember)

    # An invoice, paid: the pre-checkout query (answered by PTB), then the successful payment.
    offset = unblocked.update_id + 1
    invoice = await ptb.send_invoice(
        ALICE, "Membership", "One year of Regulars", "member:1001", "XTR",
        [LabeledPrice("Membership", 250)],
    )  # fmt: skip
    assert invoice.invoice is not None
    assert (invoice.invoice.total_amount, invoice.invoice.currency) == (250, "XTR")
    paying = asyncio.create_task(_person(server, ALICE, "pay", {"message_id": invoice.message_id}))
    (checkout,) = await ptb.get_updates(offset=offset, timeout=10)
    pre = checkout.pre_checkout_query
    assert pre is not None
    assert (pre.total_amount, pre.currency, pre.invoice_payload) == (250, "XTR", "member:1001")
    assert pre.from_user.id == ALICE
    assert await ptb.answer_pre_checkout_query(pre.id, ok=True) is True
    paid = await paying
    assert paid["paid"] is True
    (receipt,) = await ptb.get_updates(offset=checkout.update_id + 1, timeout=10)
    assert receipt.message is not None
    payment = receipt.message.successful_payment
    assert payment is not None
    assert (payment.total_amount, payment.invoice_payload) == (250, "member:1001")
    assert payment.telegram_payment_charge_id == paid["telegram_payment_charge_id"]

    # Declined at pre-checkout: the person is told why and nothing is paid.
    second = await ptb.send_invoice(
        ALICE, "Dessert", "Crème brûlée", "dessert:1", "XTR", [LabeledPrice("Dessert", 9)]
    )
    paying = asyncio.create_task(_person(server, ALICE, "pay", {"message_id": second.message_id}))
    (declined,) = await ptb.get_updates(offset=receipt.update_id + 1, timeout=10)
    assert declined.pre_checkout_query is not None
    await ptb.answer_pre_checkout_query(
        declined.pre_checkout_query.id, ok=False, error_message="Sold out tonight"
    )
    assert await paying == {"paid": False, "error_message": "Sold out tonight"}
    assert Update.de_json(declined.to_dict(), ptb) == declined


async def test_commands_descriptions_names_and_menu_button(server: Server, ptb: Bot) -> None:
    diner = [BotCommand("card", "My card"), BotCommand("help", "How it works")]
    diner_zh = [BotCommand("card", "我的会员卡"), BotCommand("help", "使用说明")]
    cashier = [BotCommand("bill", "Send a bill"), BotCommand("redeem", "Redeem a coupon")]
    cashier_zh = [BotCommand("bill", "发送账单"), BotCommand("redeem", "核销优惠券")]
    assert await ptb.set_my_commands(diner) is True
    assert await ptb.set_my_commands(diner_zh, language_code="zh") is True
    assert await ptb.set_my_commands(cashier, scope=BotCommandScopeChat(ALICE)) is True
    await ptb.set_my_commands(cashier_zh, scope=BotCommandScopeChat(ALICE), language_code="zh")

    assert _pairs(await ptb.get_my_commands()) == _pairs(diner)
    assert _pairs(await ptb.get_my_commands(language_code="zh")) == _pairs(diner_zh)
    assert _pairs(await ptb.get_my_commands(scope=BotCommandScopeChat(ALICE))) == _pairs(cashier)
    chat_zh = await ptb.get_my_commands(scope=BotCommandScopeChat(ALICE), language_code="zh")
    assert _pairs(chat_zh) == _pairs(cashier_zh)
    assert await ptb.get_my_commands(scope=BotCommandScopeAllPrivateChats()) == ()
    # What Alice (en-US) sees: her chat's commands; Bob (zh-hans): the diners' in Chinese.
    _, alice_menu = await server.get(f"/sandbox/users/{ALICE}/commands")
    assert (alice_menu["scope"], alice_menu["commands"][0]["command"]) == ("chat", "bill")
    _, bob_menu = await server.get(f"/sandbox/users/{BOB}/commands")
    assert (bob_menu["scope"], bob_menu["language_code"]) == ("default", "zh")

    # Deleting the chat's commands (one language at a time) leaves the other scopes alone.
    assert await ptb.delete_my_commands(scope=BotCommandScopeChat(ALICE)) is True
    assert await ptb.get_my_commands(scope=BotCommandScopeChat(ALICE)) == ()
    chat_zh = await ptb.get_my_commands(scope=BotCommandScopeChat(ALICE), language_code="zh")
    assert _pairs(chat_zh) == _pairs(cashier_zh)
    with pytest.raises(BadRequest, match=_said("chat not found")):
        await ptb.set_my_commands(cashier, scope=BotCommandScopeChat(31337))
    with pytest.raises(BadRequest, match=_said("BOT_COMMAND_INVALID")):
        await ptb.set_my_commands([BotCommand("Bill!", "Send a bill")])

    # Descriptions and names per language; a language without its own gets the default one.
    assert await ptb.set_my_description("Collect visits and rewards at Regulars Bistro.")
    assert await ptb.set_my_description("在 Regulars 小馆累积到店次数和奖励。", language_code="zh")
    assert await ptb.set_my_short_description("Your Regulars membership card")
    assert await ptb.set_my_short_description("您的会员卡", language_code="zh")
    assert await ptb.set_my_name("Regulars 小馆", language_code="zh")
    assert (await ptb.get_my_description()).description.startswith("Collect visits")
    assert (await ptb.get_my_description("zh")).description.startswith("在 Regulars 小馆")
    assert (await ptb.get_my_description("fr")).description.startswith("Collect visits")
    assert (await ptb.get_my_short_description()).short_description.startswith("Your Regulars")
    assert (await ptb.get_my_short_description("zh")).short_description == "您的会员卡"
    assert (await ptb.get_my_name("zh")).name == "Regulars 小馆"
    assert (await ptb.get_my_name()).name == "Regulars"
    assert await ptb.set_my_description(None, language_code="zh")  # back to the default one
    assert (await ptb.get_my_description("zh")).description.startswith("Collect visits")
    with pytest.raises(BadRequest, match=_said("too long")):
        await ptb.set_my_short_description("x" * 121)

    # The menu button: the default for every chat, and one chat's own.
    assert await ptb.get_chat_menu_button() == MenuButtonCommands()
    menu = MenuButtonWebApp("Menu", WebAppInfo("https://example.com/menu"))
    assert await ptb.set_chat_menu_button(menu_button=menu) is True
    assert await ptb.set_chat_menu_button(ALICE, MenuButtonCommands()) is True
    assert await ptb.get_chat_menu_button(ALICE) == MenuButtonCommands()
    assert await ptb.get_chat_menu_button(BOB) == menu
    assert await ptb.get_chat_menu_button() == menu


async def test_webhook_info_and_telegram_error_mapping(
    server: Server, ptb: Bot, receiver: Receiver
) -> None:
    info = await ptb.get_webhook_info()
    assert (info.url, info.pending_update_count) == ("", 0)
    assert await ptb.set_webhook(
        receiver.url, secret_token="s3cret", max_connections=5, allowed_updates=["message"]
    )
    await server.user_says(ALICE, "anyone there?")
    await receiver.wait_for(1)
    headers, delivered = receiver.requests[0]
    assert headers["X-Telegram-Bot-Api-Secret-Token"] == "s3cret"
    assert Update.de_json(delivered, ptb).message.text == "anyone there?"  # type: ignore[union-attr]
    info = await ptb.get_webhook_info()
    assert (info.url, info.max_connections, info.allowed_updates) == (
        receiver.url,
        5,
        ("message",),
    )
    assert info.last_error_date is None
    with pytest.raises(Conflict, match=_said("can't use getUpdates method while webhook is")):
        await ptb.get_updates()
    assert await ptb.delete_webhook(drop_pending_updates=True) is True
    assert (await ptb.get_webhook_info()).url == ""

    # 400 -> BadRequest, 403 -> Forbidden, 429 -> RetryAfter with its seconds, 401 -> InvalidToken.
    with pytest.raises(BadRequest, match=_said("chat not found")):
        await ptb.send_message(31337, "hi")
    with pytest.raises(BadRequest, match=_said("message text is empty")):
        await ptb.send_message(ALICE, " ")
    with pytest.raises(Forbidden, match=_said("bot can't initiate conversation with a user")):
        await ptb.send_message(BOB, "hi")
    await _person(server, ALICE, "block")
    with pytest.raises(Forbidden, match=_said("bot was blocked by the user")):
        await ptb.send_message(ALICE, "hi")
    await _person(server, ALICE, "unblock")
    status, _ = await server.post("/sandbox/limits", {"per_chat_per_second": 1})
    assert status == 200
    await ptb.send_message(ALICE, "one")
    with pytest.raises(RetryAfter) as flood:
        await ptb.send_message(ALICE, "two")
    assert flood.value.retry_after == timedelta(seconds=1)
    stranger = Bot("123456:wrong-token", base_url=f"{server.url}/bot")
    with pytest.raises(InvalidToken):
        await stranger.initialize()

    assert await ptb.log_out() is True
    assert await ptb.close() is True
