"""What the people do: send, open links, press buttons, pay, block; and what they see."""

from __future__ import annotations

import asyncio
import contextlib
import re
import secrets
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .base import CHAT_ACTIONS, LINK_HOSTS, MAX_CAPTION, MAX_TEXT, EmulatorBase
from .codes import PrintedCode
from .errors import ControlError
from .files import PhotoError, user_photo_sizes
from .markup import inline_buttons
from .state import (
    CallbackQuery,
    Chat,
    Invoice,
    PreCheckout,
    StoredMessage,
    User,
)
from .text import bot_command_entities, with_detected_urls

_START_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CHAT_ACTION_SECONDS = 5.0
_MAX_REMEMBERED_QUERIES = 10_000


class PeopleActions(EmulatorBase):
    """The Python side of the control API (the ``/sandbox/users/...`` endpoints call these)."""

    @staticmethod
    def _not_blocked(user: User) -> None:
        if user.blocked:
            raise ControlError(
                400,
                f"user {user.id} has blocked the bot; POST /sandbox/users/{user.id}/unblock first",
            )

    def add_user(
        self,
        id: int,
        first_name: str,
        language_code: str = "en",
        last_name: str | None = None,
        username: str | None = None,
        label: str | None = None,
        started: bool | None = None,
    ) -> dict[str, Any]:
        """Create or update a person; returns the user as the control API shows it.

        `started=True` makes someone who has opened the chat before (members of a restaurant
        that ran before this emulator started: the bot may message them first)."""
        if isinstance(id, bool) or not isinstance(id, int) or not 0 < id < 2**52:
            raise ControlError(400, "id must be a positive integer")
        if not isinstance(first_name, str) or not 1 <= len(first_name.strip()) <= 64:
            raise ControlError(400, "first_name must be a string of 1-64 characters")
        if not isinstance(language_code, str) or len(language_code) > 35:
            raise ControlError(400, "language_code must be a language tag such as 'en'")
        for name, value in (("last_name", last_name), ("username", username), ("label", label)):
            if value is not None and not isinstance(value, str):
                raise ControlError(400, f"{name} must be a string or null")
        if username is not None and not re.fullmatch(r"[A-Za-z0-9_]{4,32}", username):
            raise ControlError(400, "username must be 4-32 letters, digits or underscores")
        user = self._users.get(id)
        if user is None:
            user = User(id=id, first_name=first_name, language_code=language_code)
            self._users[id] = user
            self._chats[id] = Chat(user)
        user.first_name = first_name
        user.language_code = language_code
        user.last_name = last_name or None
        user.username = username or None
        user.label = label
        if started is not None:
            if not isinstance(started, bool):
                raise ControlError(400, "started must be true or false")
            user.started = started
        return user.control()

    def user(self, user_id: int) -> dict[str, Any]:
        return self._user(user_id).control()

    def users(self) -> list[dict[str, Any]]:
        return [user.control() for user in self._users.values()]

    def _user_message(self, user: User, **fields: Any) -> tuple[int, StoredMessage]:
        chat = self._chat_of(user)
        user.started = True
        message = StoredMessage(
            message_id=chat.allocate_id(),
            from_bot=False,
            date=self._now(),
            seq=self._next_seq(),
            **fields,
        )
        chat.add(message)
        update_id = self._hub.produce("message", self.message_json(chat, message))
        return update_id, message

    async def send(self, user_id: int, text: str) -> dict[str, Any]:
        """The person sends a private text message to the bot."""
        user = self._user(user_id)
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise ControlError(400, "text must be a string of 1-4096 characters")
        self._not_blocked(user)
        text = text.strip()
        update_id, message = self._user_message(
            user, text=text, entities=with_detected_urls(text, bot_command_entities(text))
        )
        return {"update_id": update_id, "message_id": message.message_id}

    async def send_photo(
        self, user_id: int, data: bytes, caption: str | None = None
    ) -> dict[str, Any]:
        """The person sends a photo (JPEG, PNG or WebP bytes), with an optional caption.

        The bot gets a message whose ``photo`` lists Telegram's sizes of it, smallest first; the
        largest is these very bytes, the others JPEG thumbnails. Each size has a file_id the bot
        can send again or pass to getFile. Nothing is delivered when the photo is refused."""
        user = self._user(user_id)
        if caption is not None and not isinstance(caption, str):
            raise ControlError(400, "caption must be a string or null")
        caption = (caption or "").strip() or None
        if caption is not None and len(caption) > MAX_CAPTION:
            raise ControlError(400, f"caption must be at most {MAX_CAPTION} characters")
        self._not_blocked(user)
        try:
            sizes = user_photo_sizes(data)
        except PhotoError as error:
            raise ControlError(400, str(error)) from None
        photo = self._files.add_user_photo(sizes)
        update_id, message = self._user_message(
            user,
            photo=photo,
            caption=caption,
            caption_entities=(
                with_detected_urls(caption, bot_command_entities(caption)) if caption else []
            ),
        )
        return {
            "update_id": update_id,
            "message_id": message.message_id,
            "photo": [size.photo_size() for size in photo],
        }

    def start_payload(self, url: str) -> str | None:
        """The start parameter of a link to this bot (None when absent or not valid)."""
        raw = url.strip() if isinstance(url, str) else ""
        if not raw:
            raise ControlError(400, "url must be a t.me link to the bot")
        if raw.lower().startswith("tg:"):
            parts = urlsplit(raw)
            target = (parts.netloc or parts.path).strip("/").lower()
            if target != "resolve":
                raise ControlError(400, f"not a link to a bot: {raw}")
            query = parse_qs(parts.query, keep_blank_values=True)
            domain = query.get("domain", [""])[0]
        else:
            candidate = raw if "://" in raw else "https://" + raw
            parts = urlsplit(candidate)
            host = (parts.hostname or "").lower()
            if parts.scheme.lower() not in ("http", "https") or host not in LINK_HOSTS:
                raise ControlError(400, f"not a t.me link: {raw}")
            domain = parts.path.strip("/").split("/")[0]
            query = parse_qs(parts.query, keep_blank_values=True)
        if not domain:
            raise ControlError(400, f"the link names no bot: {raw}")
        if domain.lower() != self.username.lower():
            raise ControlError(400, f"the link opens @{domain}, not this bot (@{self.username})")
        start = query.get("start", [""])[0]
        return start if _START_PAYLOAD.match(start) else None

    async def open(self, user_id: int, url: str) -> dict[str, Any]:
        """The person opens a t.me deep link: the bot gets ``/start <payload>``.

        The answer (and the message in the control API, as ``opened``) carries the label of
        the printed code with that payload, or null for a link nobody registered."""
        user = self._user(user_id)
        payload = self.start_payload(url)
        self._not_blocked(user)
        code = await self._printed_code(payload) if payload else None
        opened = {
            "payload": payload,
            "label": code.label if code is not None else None,
            "kind": code.kind if code is not None else None,
        }
        text = f"/start {payload}" if payload else "/start"
        update_id, message = self._user_message(
            user, text=text, entities=bot_command_entities(text), opened=opened
        )
        return {
            "update_id": update_id,
            "message_id": message.message_id,
            "text": text,
            "label": opened["label"],
        }

    async def _printed_code(self, payload: str) -> PrintedCode | None:
        code = self._codes.find(payload)
        if code is None and self._on_codes_refresh is not None:
            await self.refresh_printed_codes()
            code = self._codes.find(payload)
        return code

    def _remember(self, store: dict[str, Any], key: str, value: Any) -> None:
        store[key] = value
        while len(store) > _MAX_REMEMBERED_QUERIES:
            del store[next(iter(store))]

    async def press(
        self, user_id: int, message_id: int, data: str, wait: float = 0.0
    ) -> dict[str, Any]:
        """The person presses an inline button with ``callback_data == data``."""
        user = self._user(user_id)
        chat = self._chat_of(user)
        message = chat.live(message_id)
        if message is None:
            raise ControlError(400, f"message {message_id} not found in the chat with {user_id}")
        if not message.from_bot:
            raise ControlError(400, f"message {message_id} was sent by the person, not the bot")
        buttons = inline_buttons(message.markup)
        if not buttons:
            raise ControlError(400, f"message {message_id} has no inline keyboard")
        if not any(button.get("callback_data") == data for button in buttons):
            raise ControlError(
                400, f"message {message_id} has no button with callback_data {data!r}"
            )
        self._not_blocked(user)
        query = CallbackQuery(
            id=str(secrets.randbits(62) + 10**18), user_id=user.id, message_id=message_id, data=data
        )
        self._remember(self._callbacks, query.id, query)
        body = {
            "id": query.id,
            "from": user.telegram(),
            "message": self.message_json(chat, message),
            "chat_instance": chat.chat_instance,
            "data": data,
        }
        update_id = self._hub.produce("callback_query", body)
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(query.answered.wait(), wait)
        answer = None
        if query.answer is not None:
            answer = {"text": query.answer["text"], "show_alert": query.answer["show_alert"]}
            if query.answer.get("url"):
                answer["url"] = query.answer["url"]
        return {"update_id": update_id, "callback_query_id": query.id, "answer": answer}

    @staticmethod
    def _order_info(user: User, invoice: Invoice) -> dict[str, Any]:
        info: dict[str, Any] = {}
        if invoice.options.get("need_name"):
            info["name"] = " ".join(filter(None, [user.first_name, user.last_name]))
        if invoice.options.get("need_phone_number"):
            info["phone_number"] = f"1555{user.id % 10_000_000:07d}"
        if invoice.options.get("need_email"):
            info["email"] = f"user{user.id}@example.com"
        if invoice.options.get("need_shipping_address"):
            info["shipping_address"] = {
                "country_code": "US",
                "state": "CA",
                "city": "San Francisco",
                "street_line1": "1 Market St",
                "street_line2": "",
                "post_code": "94105",
            }
        return info

    async def pay(self, user_id: int, message_id: int) -> dict[str, Any]:
        """The person pays the invoice in ``message_id`` (pre-checkout, then payment)."""
        user = self._user(user_id)
        chat = self._chat_of(user)
        message = chat.live(message_id)
        if message is None:
            raise ControlError(400, f"message {message_id} not found in the chat with {user_id}")
        invoice = message.invoice
        if not message.from_bot or invoice is None:
            raise ControlError(400, f"message {message_id} is not an invoice")
        if invoice.paid:
            raise ControlError(400, f"the invoice in message {message_id} is already paid")
        self._not_blocked(user)
        query = PreCheckout(
            id=str(secrets.randbits(62) + 10**18), user_id=user.id, message_id=message_id
        )
        self._pre_checkouts[query.id] = query
        order_info = self._order_info(user, invoice)
        body: dict[str, Any] = {
            "id": query.id,
            "from": user.telegram(),
            "currency": invoice.currency,
            "total_amount": invoice.total_amount,
            "invoice_payload": invoice.payload,
        }
        if order_info:
            body["order_info"] = order_info
        self._hub.produce("pre_checkout_query", body)
        try:
            await asyncio.wait_for(query.answered.wait(), self.payment_timeout)
        except TimeoutError:
            query.expired = True
            return {
                "paid": False,
                "error_message": "timeout: the bot did not answer the pre-checkout query "
                f"within {self.payment_timeout:g} s",
            }
        finally:
            self._pre_checkouts.pop(query.id, None)
        if not query.ok:
            return {"paid": False, "error_message": query.error_message}
        if invoice.paid:
            raise ControlError(400, f"the invoice in message {message_id} is already paid")
        invoice.paid = True
        stars = invoice.currency == "XTR"
        charge_id = ("stxsandbox" if stars else "sandbox_") + secrets.token_urlsafe(24)
        provider_charge_id = "" if stars else f"sandbox_pi_{secrets.token_hex(12)}"
        payment: dict[str, Any] = {
            "currency": invoice.currency,
            "total_amount": invoice.total_amount,
            "invoice_payload": invoice.payload,
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": provider_charge_id,
        }
        period = invoice.options.get("subscription_period")
        if stars and isinstance(period, int) and period > 0:
            payment["subscription_expiration_date"] = self._now() + period
            payment["is_recurring"] = True
            payment["is_first_recurring"] = True
        if order_info:
            payment["order_info"] = order_info
        update_id, paid = self._user_message(user, successful_payment=payment)
        return {
            "paid": True,
            "update_id": update_id,
            "message_id": paid.message_id,
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": provider_charge_id,
        }

    def _member_update(self, user: User, old: str, new: str) -> dict[str, Any]:
        def member(status: str) -> dict[str, Any]:
            result: dict[str, Any] = {"user": self.bot_user(), "status": status}
            if status == "kicked":
                result["until_date"] = 0
            return result

        return {
            "chat": user.chat(),
            "from": user.telegram(),
            "date": self._now(),
            "old_chat_member": member(old),
            "new_chat_member": member(new),
        }

    def block(self, user_id: int) -> dict[str, Any]:
        """The person blocks the bot: a ``my_chat_member`` update; sends then get 403."""
        user = self._user(user_id)
        update_id = None
        if not user.blocked:
            user.blocked = True
            update_id = self._hub.produce(
                "my_chat_member", self._member_update(user, "member", "kicked")
            )
        return {**user.control(), "update_id": update_id}

    def unblock(self, user_id: int) -> dict[str, Any]:
        user = self._user(user_id)
        update_id = None
        if user.blocked:
            user.blocked = False
            update_id = self._hub.produce(
                "my_chat_member", self._member_update(user, "kicked", "member")
            )
        return {**user.control(), "update_id": update_id}

    def chat_version(self, user_id: int) -> int:
        """How many times the bot has sent or edited a message in this person's chat."""
        return self._chat_of(self._user(user_id)).version

    async def wait_reply(self, user_id: int, since: int, timeout: float) -> dict[str, Any] | None:
        """The bot's first message or edit in the chat after `chat_version() == since`, as the
        inbox shows it; None if none came within `timeout` seconds."""
        chat = self._chat_of(self._user(user_id))
        message = await chat.wait_changed(since, timeout)
        if message is None:
            return None
        return self.control_message(chat, message)

    def inbox(self, user_id: int, after: int | None = None) -> list[dict[str, Any]]:
        """What the bot sent to the person, in order, edits applied, deleted ones removed."""
        chat = self._chat_of(self._user(user_id))
        return [
            self.control_message(chat, message)
            for message in chat.messages.values()
            if message.from_bot
            and not message.deleted
            and (after is None or message.message_id > after)
        ]

    def history(self, user_id: int) -> list[dict[str, Any]]:
        """Both sides of the chat in order, with callback answers and a current chat action."""
        chat = self._chat_of(self._user(user_id))
        items: list[dict[str, Any]] = []
        for item in chat.timeline:
            if item.kind == "message" and item.message_id is not None:
                message = chat.live(item.message_id)
                if message is not None:
                    items.append(self.control_message(chat, message))
            else:
                items.append({"kind": item.kind, **item.data})
        action = chat.last_action
        if action is not None and time.monotonic() - chat.last_action_at < _CHAT_ACTION_SECONDS:
            label = CHAT_ACTIONS.get(str(action["action"]), str(action["action"]))
            items.append(
                {"kind": "chat_action", **action, "text": f"{self.first_name} is {label}…"}
            )
        return items

    def last_chat_action(self, user_id: int) -> dict[str, Any] | None:
        action = self._chat_of(self._user(user_id)).last_action
        return dict(action) if action else None

    def commands_for(self, user_id: int) -> dict[str, Any]:
        """The command menu a person sees: chat > all_private_chats > default scope."""
        user = self._user(user_id)
        language = (user.language_code or "")[:2].lower()
        languages = [language, ""] if language else [""]
        for scope in (("chat", user.id), ("all_private_chats",), ("default",)):
            for code in languages:
                commands = self._commands.get((scope, code))
                if commands:
                    return {
                        "commands": [dict(command) for command in commands],
                        "scope": scope[0],
                        "language_code": code,
                    }
        return {"commands": [], "scope": None, "language_code": None}
