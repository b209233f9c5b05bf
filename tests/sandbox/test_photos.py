"""People send photos: the bot gets Telegram's PhotoSize array, can send the photo back by
file_id and fetch it with getFile; what is not a photo is refused and never reaches the bot."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import AsyncIterator

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message
from PIL import Image

from sandbox.client import SandboxClient, SandboxError
from tests.sandbox.conftest import ALICE, BOB, Server, make_png


def make_jpeg(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()


@pytest.fixture
async def bot(server: Server) -> AsyncIterator[Bot]:
    session = AiohttpSession(api=TelegramAPIServer.from_base(server.url))
    bot = Bot(server.emulator.token, session=session)
    yield bot
    await bot.session.close()


@pytest.fixture
async def client(server: Server) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(server.url) as sandbox_client:
        yield sandbox_client


async def test_an_echo_bot_sends_the_persons_photo_back_by_file_id(
    server: Server, bot: Bot, client: SandboxClient
) -> None:
    received: list[Message] = []
    dispatcher = Dispatcher()

    @dispatcher.message(F.photo)
    async def echo(message: Message) -> None:
        received.append(message)
        assert message.photo is not None
        await message.answer_photo(
            message.photo[-1].file_id, caption=f"You sent: {message.caption}"
        )

    sent = make_png(1000, 500)
    polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False))
    try:
        update_id = await client.send_photo(ALICE, sent, caption="  Spring rolls  ")
        messages = await client.wait_for(ALICE, lambda ms: any(m["photo"] for m in ms))
    finally:
        await dispatcher.stop_polling()
        await polling

    # What the bot got: Telegram's sizes, smallest first, the largest the photo as sent.
    assert update_id > 0
    [message] = received
    assert message.caption == "Spring rolls"
    assert message.photo is not None
    assert [(size.width, size.height) for size in message.photo] == [
        (90, 45),
        (320, 160),
        (800, 400),
        (1000, 500),
    ]
    assert len({size.file_id for size in message.photo}) == 4
    assert len({size.file_unique_id for size in message.photo}) == 4
    largest = message.photo[-1]
    assert largest.file_size == len(sent)

    # What the person got back: the same photo (same file_id), the very bytes they sent.
    [reply] = messages
    assert reply["caption"] == "You sent: Spring rolls"
    assert reply["photo"]["file_id"] == largest.file_id
    assert (reply["photo"]["width"], reply["photo"]["height"]) == (1000, 500)
    assert await client.file(largest.file_id) == sent

    # The smaller sizes are real thumbnails of the size they say.
    for size in message.photo[:-1]:
        thumbnail = await client.file(size.file_id)
        assert size.file_size == len(thumbnail)
        with Image.open(io.BytesIO(thumbnail)) as image:
            assert (image.format, image.size) == ("JPEG", (size.width, size.height))

    # getFile and the download URL work for a photo a person sent.
    file = await bot.get_file(largest.file_id)
    assert file.file_size == len(sent)
    assert file.file_path is not None
    assert file.file_path.endswith(".png")
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None
    assert downloaded.read() == sent

    # Both sides of the chat show it: the person's own photo, then the bot's.
    status, history = await server.get(f"/sandbox/users/{ALICE}/history")
    assert status == 200
    photos = [(m["from"], m["photo"]["file_id"]) for m in history["messages"] if m.get("photo")]
    assert photos == [("user", largest.file_id), ("bot", largest.file_id)]
    order = [m["seq"] for m in history["messages"] if m.get("kind") == "message"]
    assert order == sorted(order)  # the emulator-wide order of messages
    assert len(set(order)) == len(order)


async def test_a_jpeg_without_caption_and_a_small_photo_keep_their_size(
    server: Server, client: SandboxClient
) -> None:
    jpeg = make_jpeg(64, 48)
    status, body = await server.post(
        f"/sandbox/users/{ALICE}/send_photo",
        {"photo_base64": base64.encodebytes(jpeg).decode()},  # line breaks are fine
    )
    assert status == 200, body
    assert [(s["width"], s["height"]) for s in body["photo"]] == [(64, 48)]
    [update] = await server.drain()
    assert update["update_id"] == body["update_id"]
    message = update["message"]
    assert "caption" not in message
    assert message["from"]["id"] == ALICE
    assert message["photo"] == body["photo"]
    assert await client.file(message["photo"][-1]["file_id"]) == jpeg

    # wait_reply works as on the other acting routes (nothing answers here: null).
    status, body = await server.post(
        f"/sandbox/users/{ALICE}/send_photo",
        {"photo_base64": base64.b64encode(jpeg).decode(), "caption": "/menu", "wait_reply": 0.1},
    )
    assert status == 200
    assert body["reply"] is None
    [update] = await server.drain()
    assert update["message"]["caption"] == "/menu"
    assert update["message"]["caption_entities"] == [
        {"type": "bot_command", "offset": 0, "length": 5}
    ]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({}, "photo_base64 must be a string"),
        ({"photo_base64": "not base64!!"}, "not valid base64"),
        ({"photo_base64": "aGVsbG8"}, "not valid base64"),  # padding missing
        ({"photo_base64": base64.b64encode(b"hello, not an image").decode()}, "not a readable"),
        ({"photo_base64": base64.b64encode(make_png(40, 30)[:60]).decode()}, "not a readable"),
        ({"photo_base64": base64.b64encode(b"GIF89a" + bytes(40)).decode()}, "JPEG, PNG or WebP"),
        ({"photo_base64": base64.b64encode(make_png(300, 10)).decode()}, "at most 20:1"),
        ({"photo_base64": "A" * (14 * 1024 * 1024)}, "larger than 10 MB"),
        (
            {"photo_base64": base64.b64encode(make_png(8, 8)).decode(), "caption": "x" * 1025},
            "caption must be at most 1024",
        ),
        ({"photo_base64": base64.b64encode(make_png(8, 8)).decode(), "caption": 5}, "caption"),
    ],
)
async def test_what_is_not_a_photo_is_refused_and_never_reaches_the_bot(
    server: Server, body: dict[str, object], error: str
) -> None:
    before = server.emulator.stats()["updates"]
    status, answer = await server.post(f"/sandbox/users/{ALICE}/send_photo", body)
    assert status == 400
    assert answer["ok"] is False
    assert error in answer["description"]
    assert server.emulator.stats()["updates"] == before
    assert await server.drain() == []
    assert server.emulator.history(ALICE)[-1].get("photo") is None


async def test_refusals_from_the_client_and_for_people_who_cannot_send(
    server: Server, client: SandboxClient
) -> None:
    with pytest.raises(SandboxError, match="400"):
        await client.send_photo(ALICE, b"\x89PNG\r\n\x1a\n but not really")
    await client.block(BOB)
    with pytest.raises(SandboxError, match="has blocked the bot"):
        await client.send_photo(BOB, make_png(8, 8))
    with pytest.raises(SandboxError, match="404"):
        await client.send_photo(424242, make_png(8, 8))
    kinds = [sorted(set(update) - {"update_id"}) for update in await server.drain()]
    assert kinds == [["my_chat_member"]]  # the block, no message
