"""The people, their private chats with the bot, and the messages in them."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Any

from .files import StoredFile
from .markup import Markup, is_inline
from .text import Entity


@dataclass(eq=False, slots=True)
class User:
    id: int
    first_name: str
    language_code: str
    last_name: str | None = None
    username: str | None = None
    label: str | None = None
    blocked: bool = False
    started: bool = False

    def telegram(self) -> dict[str, Any]:
        """The ``User`` object of the Bot API."""
        result: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            result["last_name"] = self.last_name
        if self.username:
            result["username"] = self.username
        if self.language_code:
            result["language_code"] = self.language_code
        return result

    def chat(self) -> dict[str, Any]:
        """The private ``Chat`` object."""
        result: dict[str, Any] = {"id": self.id, "first_name": self.first_name}
        if self.last_name:
            result["last_name"] = self.last_name
        if self.username:
            result["username"] = self.username
        result["type"] = "private"
        return result

    def control(self) -> dict[str, Any]:
        """The user as the control API shows it."""
        return {
            "id": self.id,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "username": self.username,
            "language_code": self.language_code,
            "label": self.label,
            "blocked": self.blocked,
            "started": self.started,
        }


@dataclass(eq=False, slots=True)
class Invoice:
    title: str
    description: str
    payload: str
    currency: str
    prices: list[dict[str, Any]]
    provider_token: str
    start_parameter: str = ""
    photo_url: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    paid: bool = False

    @property
    def total_amount(self) -> int:
        return sum(int(price["amount"]) for price in self.prices)

    def telegram(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "description": self.description,
            "start_parameter": self.start_parameter,
            "currency": self.currency,
            "total_amount": self.total_amount,
        }

    def control(self) -> dict[str, Any]:
        return {
            **self.telegram(),
            "prices": [dict(price) for price in self.prices],
            "photo_url": self.photo_url,
        }


@dataclass(eq=False, slots=True)
class StoredMessage:
    message_id: int
    from_bot: bool
    date: int
    text: str | None = None
    entities: list[Entity] = field(default_factory=list)
    caption: str | None = None
    caption_entities: list[Entity] = field(default_factory=list)
    photo: list[StoredFile] | None = None
    document: StoredFile | None = None
    invoice: Invoice | None = None
    markup: Markup | None = None
    reply_to: int | None = None
    edit_date: int | None = None
    deleted: bool = False
    successful_payment: dict[str, Any] | None = None
    protected: bool = False
    spoiler: bool = False  # has_media_spoiler (sendPhoto's has_spoiler)
    caption_above: bool = False  # show_caption_above_media
    opened: dict[str, Any] | None = None  # a person's /start from a link (control API only)
    # Order among all the messages in the emulator, every chat and both sides (control API only).
    seq: int = 0

    @property
    def inline_markup(self) -> Markup | None:
        return self.markup if is_inline(self.markup) else None

    @property
    def has_media(self) -> bool:
        return self.photo is not None or self.document is not None


@dataclass(slots=True)
class TimelineItem:
    kind: str  # "message", "callback_answer"
    message_id: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(eq=False, slots=True)
class Chat:
    user: User
    next_message_id: int = 1
    messages: dict[int, StoredMessage] = field(default_factory=dict)
    timeline: list[TimelineItem] = field(default_factory=list)
    chat_instance: str = field(default_factory=lambda: str(-(secrets.randbits(62) + 1)))
    last_action: dict[str, Any] | None = None
    last_action_at: float = 0.0
    # Bumped whenever the bot sends or edits a message here; `wait_reply` waits on it.
    version: int = 0
    last_changed: int | None = None
    _changed: asyncio.Event | None = None

    def add(self, message: StoredMessage) -> StoredMessage:
        self.messages[message.message_id] = message
        self.timeline.append(TimelineItem("message", message.message_id))
        return message

    def bot_changed(self, message_id: int) -> None:
        """The bot sent or edited `message_id`: wake whoever waits for its reply."""
        self.version += 1
        self.last_changed = message_id
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def wait_changed(self, since: int, timeout: float) -> StoredMessage | None:
        """The message the bot sent or edited after `version == since`, waiting up to
        `timeout` seconds; None when nothing came."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self.version == since:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            if self._changed is None:
                self._changed = asyncio.Event()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                return None
        return None if self.last_changed is None else self.messages.get(self.last_changed)

    def allocate_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id

    def live(self, message_id: int) -> StoredMessage | None:
        message = self.messages.get(message_id)
        if message is None or message.deleted:
            return None
        return message


@dataclass(eq=False, slots=True)
class CallbackQuery:
    id: str
    user_id: int
    message_id: int
    data: str
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    answer: dict[str, Any] | None = None


@dataclass(eq=False, slots=True)
class PreCheckout:
    id: str
    user_id: int
    message_id: int
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    ok: bool | None = None
    error_message: str | None = None
    expired: bool = False
