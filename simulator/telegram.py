"""An in-process Telegram for the simulator: takes every message, remembers who got what.

The outbox worker (scheduler/delivery.py) posts its JSON straight through the bot's aiohttp
session, so the stand-in is an :class:`AiohttpSession` whose HTTP client never leaves the
process: ``post`` answers like the Bot API (a message id, or 403 for a guest who blocked the
bot), and aiogram reads the answer exactly as it reads Telegram's. Calls made through aiogram's
methods (``bot.send_message``: tier congratulations) go through ``make_request``, answered the
same way. Nothing is sent anywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, cast

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.methods import SendMessage, SendPhoto, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import Chat, Message
from aiohttp import ClientSession

BLOCKED = "Forbidden: bot was blocked by the user"
TOKEN = "123456:simulated-telegram-for-regulars-simulate"


@dataclass(frozen=True, slots=True)
class Delivered:
    chat_id: int
    message_id: int
    method: str


class _Response:
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        self._text = json.dumps(body)

    async def text(self) -> str:
        return self._text

    async def __aenter__(self) -> _Response:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None


class _Http:
    """The few parts of aiohttp's ClientSession the outbox uses: ``post`` and ``close``."""

    def __init__(self, telegram: SimulatedTelegram) -> None:
        self._telegram = telegram
        self.closed = False

    def post(self, url: str, *, data: str, **_: Any) -> _Response:
        method = url.rsplit("/", 1)[-1]
        payload = json.loads(data)
        return self._telegram.answer(method, int(payload["chat_id"]))

    async def close(self) -> None:
        self.closed = True


class SimulatedTelegram(AiohttpSession):
    def __init__(self) -> None:
        super().__init__()
        self.blocked: set[int] = set()
        self.delivered: list[Delivered] = []
        self._next_id = 0
        self._http = _Http(self)

    def answer(self, method: str, chat_id: int) -> _Response:
        if chat_id in self.blocked:
            return _Response(403, {"ok": False, "error_code": 403, "description": BLOCKED})
        self._next_id += 1
        self.delivered.append(Delivered(chat_id, self._next_id, method))
        return _Response(200, {"ok": True, "result": {"message_id": self._next_id}})

    def take_delivered(self) -> list[Delivered]:
        taken, self.delivered = self.delivered, []
        return taken

    async def create_session(self) -> ClientSession:
        return cast(ClientSession, self._http)

    async def close(self) -> None:
        return None

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        if not isinstance(method, SendMessage | SendPhoto):
            raise TelegramBadRequest(method=method, message=f"{type(method).__name__}: simulated")
        chat_id = int(method.chat_id)
        if chat_id in self.blocked:
            raise TelegramForbiddenError(method=method, message=BLOCKED)
        self._next_id += 1
        name = "sendMessage" if isinstance(method, SendMessage) else "sendPhoto"
        self.delivered.append(Delivered(chat_id, self._next_id, name))
        message = Message(
            message_id=self._next_id,
            date=datetime.fromtimestamp(0, UTC),
            chat=Chat(id=chat_id, type="private"),
        )
        return cast(TelegramType, message)


def simulated_bot(telegram: SimulatedTelegram) -> Bot:
    return Bot(token=TOKEN, session=telegram)
