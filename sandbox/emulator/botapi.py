"""The Bot API methods: what the bot calls at ``/bot{token}/{method}``."""

from __future__ import annotations

import math
import re
import time
from typing import Any
from urllib.parse import unquote, urlsplit

import aiohttp

from .base import CHAT_ACTIONS, LINK_HOSTS, MAX_CAPTION, MAX_TEXT, Described, EmulatorBase, Handler
from .errors import ApiError, bad_request
from .files import StoredFile, image_info
from .markup import Markup, is_inline, parse_reply_markup
from .params import Params
from .parsers import parse
from .state import (
    Chat,
    Invoice,
    StoredMessage,
    TimelineItem,
)
from .text import Entity, normalize_entities, trim, with_detected_urls

_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
_COMMAND = re.compile(r"^[a-z0-9_]{1,32}$")
_LANGUAGE = re.compile(r"^[a-z]{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
_DELETE_WINDOW = 48 * 3600
_QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
_NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


class BotApiMethods(EmulatorBase):
    """Every supported Bot API method, with Telegram's validation and error texts."""

    def _method_table(self) -> dict[str, tuple[str, Handler]]:
        return {
            name.lower(): (name, handler)
            for name, handler in {
                "getMe": self._get_me,
                "logOut": self._true,
                "close": self._true,
                "getUpdates": self._get_updates,
                "setWebhook": self._set_webhook,
                "deleteWebhook": self._delete_webhook,
                "getWebhookInfo": self._get_webhook_info,
                "sendMessage": self._send_message,
                "sendPhoto": self._send_photo,
                "sendDocument": self._send_document,
                "sendInvoice": self._send_invoice,
                "sendChatAction": self._send_chat_action,
                "editMessageText": self._edit_message_text,
                "editMessageCaption": self._edit_message_caption,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "answerCallbackQuery": self._answer_callback_query,
                "answerPreCheckoutQuery": self._answer_pre_checkout_query,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "setMyDescription": self._set_my_description,
                "getMyDescription": self._get_my_description,
                "setMyShortDescription": self._set_my_short_description,
                "getMyShortDescription": self._get_my_short_description,
                "setMyName": self._set_my_name,
                "getMyName": self._get_my_name,
                "setChatMenuButton": self._set_chat_menu_button,
                "getChatMenuButton": self._get_chat_menu_button,
                "getChat": self._get_chat,
                "getFile": self._get_file,
            }.items()
        }

    async def call(self, method: str, params: Params | dict[str, Any]) -> Any:
        """Run one Bot API method (raises :class:`ApiError`), counting it in the stats."""
        if not self._methods:
            self._methods = self._method_table()
        entry = self._methods.get(method.lower())
        if entry is None:
            raise ApiError(404, "Not Found: method not found")
        name, handler = entry
        self._calls[name] += 1
        if not isinstance(params, Params):
            params = Params(params)
        try:
            result = await handler(params)
        except ApiError as error:
            if error.code == 429:
                self._status_429 += 1
            elif error.code == 403:
                self._status_403 += 1
            raise
        return result

    async def _execute_reply(self, method: str, params: Params) -> None:
        await self.call(method, params)

    @staticmethod
    def _formatted(params: Params, text_key: str, entities_key: str) -> tuple[str, list[Entity]]:
        raw = params.text(text_key)
        if raw is None:
            return "", []
        mode = params.text("parse_mode")
        if mode and mode.strip().lower() != "none":
            text, entities = parse(mode, raw)
        elif params.raw(entities_key) is not None:
            given = normalize_entities(params.json(entities_key, "entities"), raw)
            if given is None:
                raise bad_request("can't parse entities JSON object")
            text, entities = raw, given
        else:
            text, entities = raw, []
        text, entities = trim(text, entities)
        return text, with_detected_urls(text, entities)

    def _caption(self, params: Params) -> tuple[str | None, list[Entity]]:
        caption, entities = self._formatted(params, "caption", "caption_entities")
        if len(caption) > MAX_CAPTION:
            raise bad_request("message caption is too long")
        return (caption or None), entities

    @staticmethod
    def _markup(params: Params, *, inline_only: bool = False) -> Markup | None:
        markup = parse_reply_markup(params.raw("reply_markup"))
        if inline_only and markup is not None and not is_inline(markup):
            raise bad_request("inline keyboard expected")
        return markup

    def _reply_to(self, chat: Chat, params: Params) -> int | None:
        reply = params.json("reply_parameters", "reply parameters")
        allow = params.boolean("allow_sending_without_reply")
        message_id: Any = None
        if reply is not None:
            if not isinstance(reply, dict):
                raise bad_request("can't parse reply parameters JSON object")
            message_id = reply.get("message_id")
            allow = bool(reply.get("allow_sending_without_reply", allow))
        else:
            message_id = params.integer("reply_to_message_id")
        if message_id is None:
            return None
        if not isinstance(message_id, int) or chat.live(message_id) is None:
            if allow:
                return None
            raise bad_request("message to be replied not found")
        return message_id

    def _throttle(self, chat: Chat) -> None:
        retry_after = self._limiter.hit(chat.user.id)
        if retry_after is not None:
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
            )

    def _bot_message(self, chat: Chat, params: Params, **fields: Any) -> StoredMessage:
        message = StoredMessage(
            message_id=chat.allocate_id(),
            from_bot=True,
            date=self._now(),
            protected=params.boolean("protect_content"),
            seq=self._next_seq(),
            **fields,
        )
        chat.add(message)
        chat.last_action_at = 0.0  # a message ends the chat action on the person's screen
        chat.bot_changed(message.message_id)
        return message

    async def _fetch_local(self, url: str) -> bytes | None:
        """Fetch an http(s) URL on this machine; ``None`` for remote URLs (never fetched)."""
        if (urlsplit(url).hostname or "").lower() not in _LOCAL_HOSTS:
            return None
        if self._http is None:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        try:
            async with self._http.get(url) as response:
                if response.status != 200:
                    raise bad_request("failed to get HTTP URL content")
                return await response.read()
        except (aiohttp.ClientError, TimeoutError, OSError):
            raise bad_request("failed to get HTTP URL content") from None

    async def _input_photo(self, params: Params) -> list[StoredFile]:
        upload = params.upload("photo")
        if upload is not None:
            return self._store_photo(upload.data, None)
        value = params.text("photo")
        if value is None:
            raise bad_request("there is no photo in the request")
        if value.startswith(("http://", "https://")):
            data = await self._fetch_local(value)
            if data is None:
                return self._files.add_photo(None, value, None)
            return self._store_photo(data, value, from_url=True)
        stored = self._files.get(value.strip())
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if stored.kind != "photo":
            raise bad_request("can't use file of type Document as Photo")
        return list(stored.group) or [stored]

    def _store_photo(
        self, data: bytes, url: str | None, *, from_url: bool = False
    ) -> list[StoredFile]:
        if not data:
            raise bad_request("file must be non-empty")
        info = image_info(data)
        if info is None:
            raise bad_request(
                "wrong type of the web page content" if from_url else "IMAGE_PROCESS_FAILED"
            )
        return self._files.add_photo(data, url, info)

    async def _input_document(self, params: Params) -> StoredFile:
        upload = params.upload("document")
        if upload is not None:
            if not upload.data:
                raise bad_request("file must be non-empty")
            return self._files.add_document(
                upload.data, None, upload.filename or "document", upload.content_type
            )
        value = params.text("document")
        if value is None:
            raise bad_request("there is no document in the request")
        if value.startswith(("http://", "https://")):
            data = await self._fetch_local(value)
            name = unquote(urlsplit(value).path.rsplit("/", 1)[-1]) or "file"
            return self._files.add_document(data, value, name, None)
        stored = self._files.get(value.strip())
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        if stored.kind != "document":
            raise bad_request("can't use file of type Photo as Document")
        return stored

    async def _true(self, params: Params) -> bool:
        return True

    async def _get_me(self, params: Params) -> dict[str, Any]:
        return {
            **self.bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    @staticmethod
    def _allowed_updates(params: Params) -> list[str] | None:
        allowed = params.json("allowed_updates", "allowed updates")
        if allowed is None:
            return None
        if not isinstance(allowed, list) or not all(isinstance(kind, str) for kind in allowed):
            raise bad_request("can't parse allowed updates JSON object")
        return allowed

    async def _get_updates(self, params: Params) -> list[dict[str, Any]]:
        offset = params.integer("offset")
        limit = params.integer("limit") or 100
        limit = min(max(limit, 1), 100)
        timeout = params.number("timeout") or 0.0
        if math.isnan(timeout) or timeout < 0:
            timeout = 0.0
        return await self._hub.get_updates(offset, limit, timeout, self._allowed_updates(params))

    async def _set_webhook(self, params: Params) -> Described:
        url = (params.text("url") or "").strip()
        allowed = self._allowed_updates(params)
        if params.boolean("drop_pending_updates"):
            self._hub.drop_pending()
        if not url:
            had = self._hub.delete_webhook()
            self._hub.set_allowed(allowed)
            return Described(True, "Webhook was deleted" if had else "Webhook is already deleted")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        if not parts.hostname:
            raise bad_request("bad webhook: Failed to resolve host: Name or service not known")
        secret = params.text("secret_token")
        if secret is not None:
            if len(secret) > 256:
                raise bad_request("secret token is too long")
            if not _SECRET.match(secret):
                raise bad_request("secret token contains unallowed characters")
        max_connections = params.integer("max_connections") or 40
        max_connections = min(max(max_connections, 1), 100)
        changed = self._hub.set_webhook(url, secret, max_connections, allowed)
        return Described(True, "Webhook was set" if changed else "Webhook is already set")

    async def _delete_webhook(self, params: Params) -> Described:
        if params.boolean("drop_pending_updates"):
            self._hub.drop_pending()
        had = self._hub.delete_webhook()
        return Described(True, "Webhook was deleted" if had else "Webhook is already deleted")

    async def _get_webhook_info(self, params: Params) -> dict[str, Any]:
        return self._hub.webhook_info()

    async def _send_message(self, params: Params) -> dict[str, Any]:
        chat = self._writable_chat(params)
        text, entities = self._formatted(params, "text", "entities")
        if not text:
            raise bad_request("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        markup = self._markup(params)
        reply_to = self._reply_to(chat, params)
        self._throttle(chat)
        message = self._bot_message(
            chat, params, text=text, entities=entities, markup=markup, reply_to=reply_to
        )
        return self.message_json(chat, message)

    async def _send_photo(self, params: Params) -> dict[str, Any]:
        chat = self._writable_chat(params)
        caption, entities = self._caption(params)
        markup = self._markup(params)
        reply_to = self._reply_to(chat, params)
        photo = await self._input_photo(params)
        self._throttle(chat)
        message = self._bot_message(
            chat,
            params,
            photo=photo,
            caption=caption,
            caption_entities=entities,
            markup=markup,
            reply_to=reply_to,
            spoiler=params.boolean("has_spoiler"),
            caption_above=params.boolean("show_caption_above_media"),
        )
        return self.message_json(chat, message)

    async def _send_document(self, params: Params) -> dict[str, Any]:
        chat = self._writable_chat(params)
        caption, entities = self._caption(params)
        markup = self._markup(params)
        reply_to = self._reply_to(chat, params)
        document = await self._input_document(params)
        self._throttle(chat)
        message = self._bot_message(
            chat,
            params,
            document=document,
            caption=caption,
            caption_entities=entities,
            markup=markup,
            reply_to=reply_to,
        )
        return self.message_json(chat, message)

    async def _send_invoice(self, params: Params) -> dict[str, Any]:
        chat = self._writable_chat(params)
        invoice = self._invoice(params)
        markup = self._markup(params, inline_only=True)
        if markup is not None and not markup["inline_keyboard"][0][0].get("pay"):
            raise bad_request("REPLY_MARKUP_BUY_EMPTY")
        reply_to = self._reply_to(chat, params)
        self._throttle(chat)
        message = self._bot_message(chat, params, invoice=invoice, markup=markup, reply_to=reply_to)
        return self.message_json(chat, message)

    @staticmethod
    def _invoice(params: Params) -> Invoice:
        title = params.text("title") or ""
        if not title.strip():
            raise bad_request("title is empty")
        if len(title) > 32:
            raise bad_request("title is too long (at most 32 characters)")
        description = params.text("description") or ""
        if not description.strip():
            raise bad_request("description is empty")
        if len(description) > 255:
            raise bad_request("description is too long (at most 255 characters)")
        payload = params.text("payload") or ""
        if not payload:
            raise bad_request("payload is empty")
        if len(payload.encode("utf-8")) > 128:
            raise bad_request("INVOICE_PAYLOAD_INVALID")
        currency = params.text("currency") or ""
        if not _CURRENCY.match(currency):
            raise bad_request("CURRENCY_INVALID")
        prices = params.json("prices", "prices")
        if prices is None:
            raise bad_request("prices is empty")
        if not isinstance(prices, list) or not all(
            isinstance(price, dict)
            and isinstance(price.get("label"), str)
            and isinstance(price.get("amount"), int)
            and not isinstance(price.get("amount"), bool)
            for price in prices
        ):
            raise bad_request("can't parse prices JSON object")
        if not prices:
            raise bad_request("prices must be non-empty")
        if currency == "XTR" and len(prices) != 1:
            raise bad_request("prices must contain exactly one item for payments in Telegram Stars")
        cleaned = [{"label": price["label"], "amount": price["amount"]} for price in prices]
        if sum(price["amount"] for price in cleaned) <= 0:
            raise bad_request("CURRENCY_TOTAL_AMOUNT_INVALID")
        provider_token = params.text("provider_token") or ""
        if not provider_token and currency != "XTR":
            raise bad_request("PAYMENT_PROVIDER_INVALID")
        options: dict[str, Any] = {}
        for flag in (
            "need_name",
            "need_phone_number",
            "need_email",
            "need_shipping_address",
            "send_phone_number_to_provider",
            "send_email_to_provider",
            "is_flexible",
        ):
            if params.boolean(flag):
                options[flag] = True
        for number in ("max_tip_amount", "subscription_period", "photo_size"):
            value = params.integer(number)
            if value is not None:
                options[number] = value
        tips = params.json("suggested_tip_amounts", "suggested tip amounts")
        if tips is not None:
            options["suggested_tip_amounts"] = tips
        provider_data = params.text("provider_data")
        if provider_data is not None:
            options["provider_data"] = provider_data
        return Invoice(
            title=title,
            description=description,
            payload=payload,
            currency=currency,
            prices=cleaned,
            provider_token=provider_token,
            start_parameter=params.text("start_parameter") or "",
            photo_url=params.text("photo_url"),
            options=options,
        )

    async def _send_chat_action(self, params: Params) -> bool:
        chat = self._writable_chat(params)
        action = params.text("action")
        if action is None:
            raise bad_request("action is empty")
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        chat.last_action = {"action": action, "date": self._now()}
        chat.last_action_at = time.monotonic()
        return True

    def _message_to_edit(self, params: Params) -> tuple[Chat, StoredMessage]:
        if params.raw("inline_message_id") is not None:
            raise bad_request("MESSAGE_ID_INVALID")
        chat = self._writable_chat(params)
        message_id = params.integer("message_id", "message to edit not found")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = chat.live(message_id)
        if message is None:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return chat, message

    async def _edit_message_text(self, params: Params) -> dict[str, Any]:
        chat, message = self._message_to_edit(params)
        if message.text is None:
            raise bad_request("there is no text in the message to edit")
        text, entities = self._formatted(params, "text", "entities")
        if not text:
            raise bad_request("message text is empty")
        if len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        markup = self._markup(params, inline_only=True)
        if (text, entities, markup) == (message.text, message.entities, message.inline_markup):
            raise bad_request(_NOT_MODIFIED)
        message.text, message.entities = text, entities
        _replace_inline_markup(message, markup)
        message.edit_date = self._now()
        chat.bot_changed(message.message_id)
        return self.message_json(chat, message)

    async def _edit_message_caption(self, params: Params) -> dict[str, Any]:
        chat, message = self._message_to_edit(params)
        if not message.has_media:
            raise bad_request("there is no caption in the message to edit")
        caption, entities = self._caption(params)
        markup = self._markup(params, inline_only=True)
        above = params.boolean("show_caption_above_media")
        if (caption, entities, markup, above) == (
            message.caption,
            message.caption_entities,
            message.inline_markup,
            message.caption_above,
        ):
            raise bad_request(_NOT_MODIFIED)
        message.caption, message.caption_entities = caption, entities
        # Like the markup, the layout is what this edit says (false when not given).
        message.caption_above = message.photo is not None and above
        _replace_inline_markup(message, markup)
        message.edit_date = self._now()
        chat.bot_changed(message.message_id)
        return self.message_json(chat, message)

    async def _edit_message_reply_markup(self, params: Params) -> dict[str, Any]:
        chat, message = self._message_to_edit(params)
        markup = self._markup(params, inline_only=True)
        if markup == message.inline_markup:
            raise bad_request(_NOT_MODIFIED)
        _replace_inline_markup(message, markup)
        message.edit_date = self._now()
        chat.bot_changed(message.message_id)
        return self.message_json(chat, message)

    async def _delete_message(self, params: Params) -> bool:
        chat = self._chat(params)
        message_id = params.integer("message_id", "message to delete not found")
        if message_id is None:
            raise bad_request("message identifier is not specified")
        message = chat.live(message_id)
        if message is None:
            raise bad_request("message to delete not found")
        if self._now() - message.date >= _DELETE_WINDOW:
            raise bad_request("message can't be deleted for everyone")
        message.deleted = True
        return True

    async def _answer_callback_query(self, params: Params) -> bool:
        query_id = params.text("callback_query_id")
        if query_id is None:
            raise bad_request("callback_query_id is empty")
        query = self._callbacks.get(query_id)
        if query is None or query.answer is not None:
            raise bad_request(_QUERY_TOO_OLD)
        text = params.text("text") or ""
        if len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        url = params.text("url")
        if url is not None:
            host = (urlsplit(url if "://" in url else "https://" + url).hostname or "").lower()
            if host not in LINK_HOSTS:
                raise bad_request("URL_INVALID")
        answer: dict[str, Any] = {
            "text": text or None,
            "show_alert": params.boolean("show_alert"),
            "url": url,
        }
        query.answer = answer
        query.answered.set()
        chat = self._chats.get(query.user_id)
        if chat is not None:
            chat.timeline.append(
                TimelineItem(
                    "callback_answer",
                    query.message_id,
                    {
                        **answer,
                        "callback_query_id": query.id,
                        "message_id": query.message_id,
                        "date": self._now(),
                    },
                )
            )
        return True

    async def _answer_pre_checkout_query(self, params: Params) -> bool:
        query_id = params.text("pre_checkout_query_id")
        if query_id is None:
            raise bad_request("pre_checkout_query_id is empty")
        query = self._pre_checkouts.get(query_id)
        if query is None or query.ok is not None or query.expired:
            raise bad_request("QUERY_ID_INVALID")
        if params.raw("ok") is None:
            raise bad_request("ok is empty")
        ok = params.boolean("ok")
        error_message = params.text("error_message")
        if not ok and not (error_message or "").strip():
            raise bad_request("error_message is empty")
        query.ok = ok
        query.error_message = None if ok else error_message
        query.answered.set()
        return True

    def _scope(self, params: Params) -> tuple[Any, ...]:
        scope = params.json("scope", "BotCommandScope")
        if scope is None:
            return ("default",)
        if not isinstance(scope, dict) or not isinstance(scope.get("type"), str):
            raise bad_request("can't parse BotCommandScope JSON object")
        kind = scope["type"]
        if kind in ("default", "all_private_chats", "all_group_chats", "all_chat_administrators"):
            return (kind,)
        if kind in ("chat", "chat_administrators", "chat_member"):
            chat_id = self._chat_id_of(scope.get("chat_id"))
            if chat_id is None or chat_id not in self._chats:
                raise bad_request("chat not found")
            if kind != "chat":
                raise bad_request(f"can't use {kind} scope in private chats")
            return ("chat", chat_id)
        raise bad_request("can't parse BotCommandScope JSON object")

    @staticmethod
    def _language(params: Params) -> str:
        language = params.text("language_code") or ""
        if language and not _LANGUAGE.match(language):
            raise bad_request("invalid language code specified")
        return language

    async def _set_my_commands(self, params: Params) -> bool:
        commands = params.json("commands", "commands")
        if commands is None:
            raise bad_request("commands is empty")
        if not isinstance(commands, list) or not all(isinstance(item, dict) for item in commands):
            raise bad_request("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad_request("too many commands specified")
        cleaned: list[dict[str, str]] = []
        for item in commands:
            command, description = item.get("command"), item.get("description")
            if not isinstance(command, str) or not _COMMAND.match(command):
                raise bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            cleaned.append({"command": command, "description": description})
        key = (self._scope(params), self._language(params))
        if cleaned:
            self._commands[key] = cleaned
        else:
            self._commands.pop(key, None)
        return True

    async def _get_my_commands(self, params: Params) -> list[dict[str, str]]:
        key = (self._scope(params), self._language(params))
        return [dict(command) for command in self._commands.get(key, [])]

    async def _delete_my_commands(self, params: Params) -> bool:
        self._commands.pop((self._scope(params), self._language(params)), None)
        return True

    def _set_profile(self, params: Params, field: str, limit: int) -> bool:
        value = params.text(field) or ""
        if len(value) > limit:
            raise bad_request(f"{field} is too long")
        key = (field, self._language(params))
        if value:
            self._profile[key] = value
        else:
            self._profile.pop(key, None)
        return True

    def _get_profile(self, params: Params, field: str, default: str = "") -> dict[str, str]:
        language = self._language(params)
        value = self._profile.get((field, language)) or self._profile.get((field, ""), default)
        return {field: value}

    async def _set_my_description(self, params: Params) -> bool:
        return self._set_profile(params, "description", 512)

    async def _get_my_description(self, params: Params) -> dict[str, str]:
        return self._get_profile(params, "description")

    async def _set_my_short_description(self, params: Params) -> bool:
        return self._set_profile(params, "short_description", 120)

    async def _get_my_short_description(self, params: Params) -> dict[str, str]:
        return self._get_profile(params, "short_description")

    async def _set_my_name(self, params: Params) -> bool:
        return self._set_profile(params, "name", 64)

    async def _get_my_name(self, params: Params) -> dict[str, str]:
        return self._get_profile(params, "name", self.first_name)

    async def _set_chat_menu_button(self, params: Params) -> bool:
        chat_id = self._chat(params).user.id if params.raw("chat_id") is not None else None
        button = params.json("menu_button", "menu button")
        if button is None:
            self._menu_buttons.pop(chat_id, None)
            return True
        if not isinstance(button, dict) or button.get("type") not in (
            "commands",
            "web_app",
            "default",
        ):
            raise bad_request("can't parse menu button JSON object")
        self._menu_buttons[chat_id] = dict(button)
        return True

    async def _get_chat_menu_button(self, params: Params) -> dict[str, Any]:
        chat_id = self._chat(params).user.id if params.raw("chat_id") is not None else None
        button = self._menu_buttons.get(chat_id) or self._menu_buttons.get(None)
        return dict(button) if button else {"type": "commands"}

    async def _get_chat(self, params: Params) -> dict[str, Any]:
        chat = self._chat(params)
        return {
            **chat.user.chat(),
            "accent_color_id": chat.user.id % 7,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": True,
                "limited_gifts": True,
                "unique_gifts": True,
                "premium_subscription": True,
                "gifts_from_channels": True,
            },
        }

    async def _get_file(self, params: Params) -> dict[str, Any]:
        file_id = params.text("file_id")
        if file_id is None:
            raise bad_request("file_id is empty")
        stored = self._files.get(file_id)
        if stored is None:
            raise bad_request("invalid file_id")
        return stored.file_object()


def _replace_inline_markup(message: StoredMessage, markup: Markup | None) -> None:
    """Edits replace the inline keyboard (none given removes it); a reply keyboard stays."""
    if markup is not None or is_inline(message.markup):
        message.markup = markup
