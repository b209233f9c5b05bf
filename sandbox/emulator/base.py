"""The emulator's shared state: the bot, the people, their chats, files and updates."""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from .codes import CodeBook
from .errors import ControlError, bad_request, forbidden
from .files import FileStore, StoredFile
from .params import Params
from .ratelimit import RateLimiter
from .state import (
    CallbackQuery,
    Chat,
    PreCheckout,
    StoredMessage,
    User,
)
from .text import render_html
from .updates import UpdateHub

log = logging.getLogger(__name__)

MAX_TEXT = 4096
MAX_CAPTION = 1024
_TOKEN = re.compile(r"^(\d{1,20}):[A-Za-z0-9_-]{1,100}$")
LINK_HOSTS = ("t.me", "www.t.me", "telegram.me", "www.telegram.me", "telegram.dog")
CHAT_ACTIONS = {
    "typing": "typing",
    "upload_photo": "sending a photo",
    "record_video": "recording a video",
    "upload_video": "sending a video",
    "record_voice": "recording a voice message",
    "upload_voice": "sending a voice message",
    "upload_document": "sending a file",
    "choose_sticker": "choosing a sticker",
    "find_location": "finding a location",
    "record_video_note": "recording a video message",
    "upload_video_note": "sending a video message",
}

ClockHook = Callable[[float], Awaitable[dict[str, Any]]]
CodesHook = Callable[[], Awaitable[None]]
Handler = Callable[[Params], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class Described:
    """A result Telegram answers together with a human description (the webhook methods)."""

    result: Any
    description: str


def generate_token() -> str:
    """A realistic bot token: a numeric bot id, a colon and 35 URL-safe characters."""
    bot_id = secrets.randbelow(8_000_000_000) + 1_000_000_000
    return f"{bot_id}:AA{secrets.token_urlsafe(32)[:33]}"


class EmulatorBase:
    """State and rendering shared by the Bot API methods and the people's actions.

    The constructor's keyword arguments are documented on :class:`BotAPIEmulator`.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        username: str = "RegularsSandboxBot",
        first_name: str = "Regulars",
        clock: Callable[[], float] = time.time,
        on_clock_advance: ClockHook | None = None,
        payment_timeout: float = 10.0,
        global_per_second: int | None = None,
        per_chat_per_second: int | None = None,
        public_url: str = "",
        webhook_retry_delay: float = 0.5,
        on_codes_refresh: CodesHook | None = None,
    ) -> None:
        token = token or generate_token()
        match = _TOKEN.match(token)
        if match is None:
            raise ValueError("token must look like '<digits>:<letters, digits, _ or ->'")
        self.token = token
        self.bot_id = int(match.group(1))
        self.username = username
        self.first_name = first_name
        self.payment_timeout = payment_timeout
        self.public_url = public_url.rstrip("/")
        self._clock = clock
        self._on_clock_advance = on_clock_advance
        self._users: dict[int, User] = {}
        # QR codes "lying around" (table stickers, cards, coupons), by start payload.
        self._codes = CodeBook()
        self._on_codes_refresh = on_codes_refresh
        self._chats: dict[int, Chat] = {}
        self._sequence = itertools.count(1)
        self._files = FileStore()
        self._callbacks: dict[str, CallbackQuery] = {}
        self._pre_checkouts: dict[str, PreCheckout] = {}
        self._commands: dict[tuple[tuple[Any, ...], str], list[dict[str, str]]] = {}
        self._profile: dict[tuple[str, str], str] = {}
        self._menu_buttons: dict[int | None, dict[str, Any]] = {}
        self._limiter = RateLimiter(global_per_second, per_chat_per_second)
        self._calls: Counter[str] = Counter()
        self._status_429 = 0
        self._status_403 = 0
        self._hub = UpdateHub(clock, self._execute_reply, webhook_retry_delay)
        self._http: aiohttp.ClientSession | None = None
        self._closed = False
        self._methods: dict[str, tuple[str, Handler]] = {}

    async def _execute_reply(self, method: str, params: Params) -> None:
        """Run a method returned in a webhook response (the Bot API methods provide it)."""
        raise NotImplementedError

    async def refresh_printed_codes(self) -> None:
        """Let the app bring its codes up to date (``on_codes_refresh``), if it asked to."""
        if self._on_codes_refresh is None:
            return
        try:
            await self._on_codes_refresh()
        except Exception:  # a failing app hook must not break the people's actions
            log.exception("sandbox: refreshing the printed codes failed")

    def _now(self) -> int:
        return int(self._clock())

    def _next_seq(self) -> int:
        """The next message's place in the order of all messages, across chats."""
        return next(self._sequence)

    def bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    def file_url(self, stored: StoredFile) -> str:
        return f"{self.public_url}/sandbox/files/{stored.file_id}"

    @staticmethod
    def _chat_id_of(value: Any) -> int | None:
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,20}\s*", value):
            return int(value)
        return None

    def _chat(self, params: Params, name: str = "chat_id") -> Chat:
        value = params.raw(name)
        if value is None:
            raise bad_request(f"{name} is empty")
        chat_id = self._chat_id_of(value)
        chat = self._chats.get(chat_id) if chat_id is not None else None
        if chat is None:
            raise bad_request("chat not found")
        return chat

    @staticmethod
    def _reachable(chat: Chat) -> None:
        if chat.user.blocked:
            raise forbidden("bot was blocked by the user")
        if not chat.user.started:
            raise forbidden("bot can't initiate conversation with a user")

    def _writable_chat(self, params: Params) -> Chat:
        chat = self._chat(params)
        self._reachable(chat)
        return chat

    def message_json(
        self, chat: Chat, message: StoredMessage, *, with_reply: bool = True
    ) -> dict[str, Any]:
        """The ``Message`` object of the Bot API."""
        result: dict[str, Any] = {
            "message_id": message.message_id,
            "from": self.bot_user() if message.from_bot else chat.user.telegram(),
            "chat": chat.user.chat(),
            "date": message.date,
        }
        if message.edit_date is not None:
            result["edit_date"] = message.edit_date
        if message.protected:
            result["has_protected_content"] = True
        if with_reply and message.reply_to is not None:
            replied = chat.live(message.reply_to)
            if replied is not None:
                result["reply_to_message"] = self.message_json(chat, replied, with_reply=False)
        if message.text is not None:
            result["text"] = message.text
            if message.entities:
                result["entities"] = [dict(entity) for entity in message.entities]
        if message.photo is not None:
            result["photo"] = [size.photo_size() for size in message.photo]
            if message.spoiler:
                result["has_media_spoiler"] = True
        if message.document is not None:
            result["document"] = message.document.document()
        if message.caption:
            result["caption"] = message.caption
            if message.caption_entities:
                result["caption_entities"] = [dict(e) for e in message.caption_entities]
            if message.caption_above:
                result["show_caption_above_media"] = True
        if message.invoice is not None:
            result["invoice"] = message.invoice.telegram()
        if message.successful_payment is not None:
            result["successful_payment"] = dict(message.successful_payment)
        if message.inline_markup is not None:
            result["reply_markup"] = message.inline_markup
        return result

    def control_message(self, chat: Chat, message: StoredMessage) -> dict[str, Any]:
        """A message as the control API shows it (inbox and history)."""
        body = message.text if message.text is not None else message.caption
        entities = message.entities if message.text is not None else message.caption_entities
        photo = None
        if message.photo:
            largest = message.photo[-1]
            photo = {
                "url": largest.url
                if largest.data is None and largest.url
                else self.file_url(largest),
                "width": largest.width,
                "height": largest.height,
                "file_id": largest.file_id,
            }
        document = None
        if message.document is not None:
            stored = message.document
            document = {
                "url": self.file_url(stored),
                "file_name": stored.file_name,
                "mime_type": stored.mime_type,
                "file_size": stored.file_size,
                "file_id": stored.file_id,
            }
        return {
            "kind": "message",
            "from": "bot" if message.from_bot else "user",
            "message_id": message.message_id,
            "date": message.date,
            "text": message.text,
            "entities": [dict(entity) for entity in message.entities],
            "caption": message.caption,
            "caption_entities": [dict(entity) for entity in message.caption_entities],
            "parse_mode_html": render_html(body or "", entities),
            "reply_markup": message.markup,
            "photo": photo,
            "document": document,
            "invoice": message.invoice.control() if message.invoice is not None else None,
            "paid": message.invoice.paid if message.invoice is not None else False,
            "edited": message.edit_date is not None,
            "reply_to_message_id": message.reply_to,
            "successful_payment": message.successful_payment,
            # A link the person opened (a scanned code): its payload, and the printed code's
            # label and kind when the app registered it.
            "opened": dict(message.opened) if message.opened is not None else None,
            "seq": message.seq,
        }

    def _user(self, user_id: int) -> User:
        user = self._users.get(user_id)
        if user is None:
            raise ControlError(404, f"unknown user {user_id}")
        return user

    def _chat_of(self, user: User) -> Chat:
        return self._chats[user.id]
