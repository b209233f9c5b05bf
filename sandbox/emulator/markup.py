"""Validation of ``reply_markup``: inline keyboards, reply keyboards, removal, force reply."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from .errors import ApiError, bad_request

Markup = dict[str, Any]

INLINE_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
    "disabled",
)
_DECORATIONS = ("icon_custom_emoji_id", "style")
_STYLES = ("danger", "success", "primary")
_KEYBOARD_BUTTON_EXTRAS = (
    "request_users",
    "request_chat",
    "request_contact",
    "request_location",
    "request_poll",
    "web_app",
)
_REPLY_OPTIONS = (
    "is_persistent",
    "resize_keyboard",
    "one_time_keyboard",
    "selective",
)


def _button_error(detail: str) -> ApiError:
    return bad_request(f"can't parse inline keyboard button: {detail}")


def _valid_url(url: str) -> bool:
    candidate = url if "://" in url else "http://" + url
    parts = urlsplit(candidate)
    if parts.scheme in ("http", "https", "ftp"):
        return bool(parts.hostname) and " " not in url
    return parts.scheme in ("tg", "ton") and bool(parts.netloc or parts.path)


def _decorate(result: dict[str, Any], button: dict[str, Any]) -> None:
    style = button.get("style")
    if style is not None:
        if style not in _STYLES:
            raise bad_request("BUTTON_STYLE_INVALID")
        result["style"] = style
    emoji = button.get("icon_custom_emoji_id")
    if isinstance(emoji, str) and emoji:
        result["icon_custom_emoji_id"] = emoji


def _inline_button(button: Any) -> dict[str, Any]:
    if not isinstance(button, dict):
        raise _button_error("InlineKeyboardButton must be an Object")
    if "text" not in button:
        raise _button_error('Can\'t find field "text"')
    if not isinstance(button["text"], str):
        raise _button_error('Field "text" must be of type String')
    result: dict[str, Any] = {"text": button["text"]}
    _decorate(result, button)
    actions = [key for key in INLINE_ACTIONS if button.get(key) is not None]
    if not actions:
        raise _button_error("Text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise _button_error("Inline keyboard button must have exactly one action")
    action = actions[0]
    value = button[action]
    if action == "callback_data":
        if not isinstance(value, str) or not 1 <= len(value.encode("utf-8")) <= 64:
            raise bad_request("BUTTON_DATA_INVALID")
    elif action == "url":
        if not isinstance(value, str) or not _valid_url(value):
            raise bad_request(f"inline keyboard button URL '{value}' is invalid: Wrong HTTP URL")
    elif action in ("web_app", "login_url"):
        if not isinstance(value, dict) or not isinstance(value.get("url"), str):
            raise _button_error(f'Field "{action}" must be of type Object with a "url"')
        if not _valid_url(value["url"]):
            raise bad_request("BUTTON_URL_INVALID")
    elif action in ("switch_inline_query", "switch_inline_query_current_chat"):
        if not isinstance(value, str):
            raise _button_error(f'Field "{action}" must be of type String')
    elif action == "copy_text":
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            raise _button_error('Field "copy_text" must be of type Object')
    elif action == "pay":
        if value is not True:
            raise _button_error('Field "pay" must be true')
    elif not isinstance(value, dict):
        raise _button_error(f'Field "{action}" must be of type Object')
    result[action] = value
    return result


def _keyboard_button(button: Any) -> dict[str, Any]:
    if isinstance(button, str):
        button = {"text": button}
    if not isinstance(button, dict):
        raise bad_request(
            "can't parse keyboard button: KeyboardButton must be a String or an Object"
        )
    text = button.get("text")
    if not isinstance(text, str) or not text:
        raise bad_request('can\'t parse keyboard button: Field "text" must be of type String')
    result: dict[str, Any] = {"text": text}
    _decorate(result, button)
    for key in _KEYBOARD_BUTTON_EXTRAS:
        if button.get(key) is not None and button.get(key) is not False:
            result[key] = button[key]
    return result


def parse_reply_markup(value: Any) -> Markup | None:
    """Validate and normalise a reply_markup given as an object or as JSON text.

    Returns ``None`` for no markup (also for an inline keyboard without any button).
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise bad_request("can't parse reply keyboard markup JSON object") from None
    if not isinstance(value, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in value:
        rows = value["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
            )
        keyboard = [[_inline_button(button) for button in row] for row in rows if row]
        return {"inline_keyboard": keyboard} if keyboard else None
    if "keyboard" in value:
        rows = value["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                'field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays'
            )
        reply_rows = [[_keyboard_button(button) for button in row] for row in rows if row]
        if not reply_rows:
            raise bad_request("keyboard must be non-empty")
        markup: Markup = {"keyboard": reply_rows}
        for option in _REPLY_OPTIONS:
            if value.get(option):
                markup[option] = True
        placeholder = value.get("input_field_placeholder")
        if isinstance(placeholder, str) and placeholder:
            if len(placeholder) > 64:
                raise bad_request("input field placeholder is too long")
            markup["input_field_placeholder"] = placeholder
        return markup
    if value.get("remove_keyboard") is True:
        removal: Markup = {"remove_keyboard": True}
        if value.get("selective"):
            removal["selective"] = True
        return removal
    if value.get("force_reply") is True:
        force: Markup = {"force_reply": True}
        placeholder = value.get("input_field_placeholder")
        if isinstance(placeholder, str) and placeholder:
            force["input_field_placeholder"] = placeholder[:64]
        if value.get("selective"):
            force["selective"] = True
        return force
    raise bad_request("can't parse reply keyboard markup JSON object")


def is_inline(markup: Markup | None) -> bool:
    return markup is not None and "inline_keyboard" in markup


def inline_buttons(markup: Markup | None) -> list[dict[str, Any]]:
    if markup is None or "inline_keyboard" not in markup:
        return []
    return [button for row in markup["inline_keyboard"] for button in row]
