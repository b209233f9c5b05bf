"""A fast tier between the domain tests and the emulator: the real dispatcher (bot.factory's,
with every router, middleware and the real database) fed updates directly, and a Bot whose
session records each Bot API call instead of sending it (as aiogram's own tests do with
``MockedBot`` and ``feed_update``).

What a person is told is read from the recorded calls. `blocked` makes calls to those chats fail
the way Telegram does for a person who blocked the bot (403). No network, no polling: one update
is a few milliseconds, so property tests can send hundreds.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramForbiddenError
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    GetMe,
    SendDocument,
    SendInvoice,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.methods.base import TelegramType
from aiogram.types import CallbackQuery, Chat, InlineKeyboardMarkup, Message, Update, User
from sqlalchemy import func, select
from sqlmodel import SQLModel

from bot.config import Settings
from bot.factory import build_dispatcher
from bot.middlewares import CommitBeforeSending
from bot.services import Services
from loyalty.clock import MovableClock

BOT_ID = 7_000_000_001
BOT_TOKEN = f"{BOT_ID}:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
BOT_USERNAME = "regulars_direct_bot"
_SENDS = (SendMessage, SendPhoto, SendDocument, SendInvoice)


@dataclass
class Said:
    """One call the bot made: to whom, what kind, its text (message, caption, toast)."""

    chat_id: int | None
    method: str
    text: str
    alert: bool = False


class RecordingSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[TelegramMethod[Any]] = []
        self.blocked: set[int] = set()
        self._message_ids = itertools.count(10_000)
        self.middleware(CommitBeforeSending())

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        self.calls.append(method)
        chat_id = getattr(method, "chat_id", None)
        if isinstance(chat_id, int) and chat_id in self.blocked:
            raise TelegramForbiddenError(
                method=method, message="Forbidden: bot was blocked by the user"
            )
        if isinstance(method, GetMe):
            user = User(id=BOT_ID, is_bot=True, first_name="Regulars", username=BOT_USERNAME)
            return user  # type: ignore[return-value]
        if isinstance(method, _SENDS):
            assert isinstance(chat_id, int)
            text = getattr(method, "text", None) or getattr(method, "caption", None)
            sent = Message(
                message_id=next(self._message_ids),
                date=datetime.now(UTC),
                chat=Chat(id=chat_id, type="private"),
                text=text,
            )
            return sent  # type: ignore[return-value]
        return True  # type: ignore[return-value]

    async def close(self) -> None:
        return None

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError
        yield b""  # pragma: no cover

    def said(self, start: int = 0) -> list[Said]:
        """What the bot sent, answered or edited since call number `start`."""
        out = []
        for method in self.calls[start:]:
            if isinstance(method, AnswerCallbackQuery):
                out.append(Said(None, "answer", method.text or "", bool(method.show_alert)))
            elif isinstance(method, SendMessage | EditMessageText):
                out.append(Said(_chat(method), type(method).__name__, method.text or ""))
            elif isinstance(method, SendPhoto | SendDocument):
                out.append(Said(_chat(method), type(method).__name__, method.caption or ""))
            elif isinstance(method, SendInvoice):
                out.append(Said(_chat(method), "SendInvoice", method.description))
            elif isinstance(method, EditMessageReplyMarkup):
                out.append(Said(_chat(method), "EditMessageReplyMarkup", ""))
        return out

    def buttons(self, chat_id: int) -> list[tuple[str, str]]:
        """(label, callback data) of the inline keyboard last sent to `chat_id`."""
        for method in reversed(self.calls):
            markup = getattr(method, "reply_markup", None)
            if _chat(method) == chat_id and isinstance(markup, InlineKeyboardMarkup):
                return [
                    (button.text, button.callback_data or "")
                    for row in markup.inline_keyboard
                    for button in row
                ]
        return []


def _chat(method: Any) -> int | None:
    chat_id = getattr(method, "chat_id", None)
    return chat_id if isinstance(chat_id, int) else None


@dataclass
class Direct:
    services: Services
    dispatcher: Dispatcher
    bot: Bot
    session: RecordingSession
    clock: MovableClock
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _query_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def feed(self, update: Update) -> list[Said]:
        start = len(self.session.calls)
        await self.dispatcher.feed_update(self.bot, update)
        return self.session.said(start)

    def user(self, telegram_id: int, language_code: str = "en", name: str = "Dana") -> User:
        return User(id=telegram_id, is_bot=False, first_name=name, language_code=language_code)

    async def press(self, who: User, data: str, message_id: int = 1) -> list[Said]:
        """`who` presses a button carrying `data` under message `message_id` of their chat."""
        message = Message(
            message_id=message_id,
            date=datetime.now(UTC),
            chat=Chat(id=who.id, type="private"),
            from_user=User(id=BOT_ID, is_bot=True, first_name="Regulars"),
            text="…",
        )
        query = CallbackQuery(
            id=str(next(self._query_ids)),
            from_user=who,
            chat_instance=str(who.id),
            message=message,
            data=data,
        )
        return await self.feed(Update(update_id=next(self._update_ids), callback_query=query))

    async def say(self, who: User, text: str) -> list[Said]:
        message = Message(
            message_id=next(self._update_ids) + 500_000,
            date=datetime.now(UTC),
            chat=Chat(id=who.id, type="private"),
            from_user=who,
            text=text,
        )
        return await self.feed(Update(update_id=next(self._update_ids), message=message))

    async def rows(
        self, *, skip: frozenset[str] = frozenset({"processed_update"})
    ) -> dict[str, int]:
        """How many rows each table holds (the de-duplication table left out: every update
        writes one row there)."""
        counts = {}
        async with self.services.session_factory() as session:
            for name, table in SQLModel.metadata.tables.items():
                if name in skip:
                    continue
                counts[name] = int(
                    await session.scalar(select(func.count()).select_from(table)) or 0
                )
        return counts


@asynccontextmanager
async def direct(settings: Settings) -> AsyncIterator[Direct]:
    clock = MovableClock()
    services = await Services.start(settings, clock)
    session = RecordingSession()
    bot = Bot(token=BOT_TOKEN, session=session)
    dispatcher = build_dispatcher(services)
    try:
        yield Direct(services, dispatcher, bot, session, clock)
    finally:
        await dispatcher.storage.close()
        await services.close()
