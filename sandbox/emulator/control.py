"""The control API: JSON over HTTP under ``/sandbox/`` for the people and the operator.

What a person does (``POST /sandbox/users/{user_id}/...``, each optionally with
``"wait_reply": <seconds>``, up to 60: the answer then carries the bot's first message or edit
afterwards as ``reply``, null if none came):

- ``send`` ``{"text"}`` → ``{"update_id", "message_id"}``
- ``send_photo`` ``{"photo_base64", "caption"?}`` → ``{"update_id", "message_id", "photo"}``:
  a JPEG, PNG or WebP image of at most 10 MB (width + height ≤ 10,000, sides at most 20:1),
  standard base64 (line breaks are ignored), caption up to 1024 characters. The bot gets a
  message with ``photo`` (PhotoSize objects, smallest first: JPEG thumbnails of 90/320/800/
  1280/2560 px below the original, then the original bytes at their own size) and
  ``caption``; every size's file_id works with sendPhoto, getFile and ``GET
  /sandbox/files/{file_id}``. Bad base64, not an image, too large: 400 with the reason, and no
  update.
- ``open`` ``{"url"}`` (a t.me deep link: ``/start <payload>``), ``press`` ``{"message_id",
  "data", "wait"?}`` (an inline button), ``pay`` ``{"message_id"}`` (an invoice).
- ``block`` / ``unblock``; ``GET .../inbox``, ``GET .../history``, ``GET .../commands``.
  A message the person sent by opening a link carries ``opened``: ``{"payload", "label",
  "kind"}``, the label and kind of the printed code with that payload (null when unknown).

Printed codes (what lies around the room to scan): ``POST /sandbox/codes`` ``{"kind", "codes":
[{"label", "url"}]}`` makes the codes of that kind exactly these (deep links to the bot with a
start payload); ``GET /sandbox/codes`` lists them all as ``{"kind", "label", "url", "payload"}``.
  Each message there carries ``seq``: its place among all messages in the emulator, every chat
  and both sides, so tests and benchmarks can tell what was sent before what.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol

from aiohttp import web

from .errors import ControlError
from .files import MAX_PHOTO_BYTES, StoredFile, file_response
from .people import PeopleActions

Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, description: str) -> web.Response:
    return web.json_response({"ok": False, "description": description}, status=status)


def _guard(handler: Route) -> Route:
    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except ControlError as error:
            return _error(error.status, error.description)

    return guarded


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise ControlError(400, "the request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ControlError(400, "the request body must be a JSON object")
    return body


def _int(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ControlError(400, f"{name} must be an integer")
    return value


def _str(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise ControlError(400, f"{name} must be a string")
    return value


def _number(body: dict[str, Any], name: str, default: float | None = None) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ControlError(400, f"{name} must be a number")
    return float(value)


def _photo_bytes(body: dict[str, Any]) -> bytes:
    """The bytes of ``photo_base64`` (standard base64; whitespace and line breaks are ignored)."""
    value = body.get("photo_base64")
    if not isinstance(value, str) or not value.strip():
        raise ControlError(400, "photo_base64 must be a string: the image's bytes in base64")
    compact = "".join(value.split())
    if len(compact) > (MAX_PHOTO_BYTES + 2) // 3 * 4:
        raise ControlError(
            400, f"the photo is larger than 10 MB ({MAX_PHOTO_BYTES:,} bytes), Telegram's limit"
        )
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise ControlError(400, "photo_base64 is not valid base64") from None


def _user_id(request: web.Request) -> int:
    raw = request.match_info["user_id"]
    try:
        return int(raw)
    except ValueError:
        raise ControlError(404, f"unknown user {raw}") from None


class Operator(Protocol):
    """The emulator as the operator drives it (:class:`.core.BotAPIEmulator` is one); the people's
    routes drive :class:`.people.PeopleActions`. A protocol, so this module needs no import of
    the core that imports it."""

    def bot_info(self) -> dict[str, Any]: ...
    def stats(self) -> dict[str, Any]: ...
    def limits(self) -> dict[str, int | None]: ...
    def set_limits(
        self, global_per_second: int | None, per_chat_per_second: int | None
    ) -> dict[str, int | None]: ...
    def redeliver(self, update_id: int) -> dict[str, Any]: ...
    async def advance_clock(self, seconds: float) -> dict[str, Any]: ...
    def printed_codes(self) -> list[dict[str, str]]: ...
    async def refresh_printed_codes(self) -> None: ...
    def set_printed_codes(self, kind: str, codes: Iterable[tuple[str, str]]) -> None: ...
    def file(self, file_id: str) -> StoredFile | None: ...


def _people_routes(people: PeopleActions) -> list[tuple[str, str, Route]]:
    """Who is in the chat and what they have seen: ``/sandbox/users/...``."""

    async def get_users(request: web.Request) -> web.StreamResponse:
        return web.json_response({"users": people.users()})

    async def post_users(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        user_id = _int(body, "id")
        try:
            current: dict[str, Any] = people.user(user_id)
        except ControlError:
            current = {"language_code": "en"}
        merged = {**current, **body}
        if "first_name" not in merged:
            raise ControlError(400, "first_name must be a string of 1-64 characters")
        user = people.add_user(
            id=user_id,
            first_name=merged["first_name"],
            language_code=merged.get("language_code") or "en",
            last_name=merged.get("last_name"),
            username=merged.get("username"),
            label=merged.get("label"),
            started=body.get("started"),
        )
        return web.json_response(user)

    async def get_user(request: web.Request) -> web.StreamResponse:
        return web.json_response(people.user(_user_id(request)))

    async def block(request: web.Request) -> web.StreamResponse:
        return web.json_response(people.block(_user_id(request)))

    async def unblock(request: web.Request) -> web.StreamResponse:
        return web.json_response(people.unblock(_user_id(request)))

    async def inbox(request: web.Request) -> web.StreamResponse:
        user_id = _user_id(request)
        after_raw = request.query.get("after")
        after = None
        if after_raw is not None and after_raw != "":
            try:
                after = int(after_raw)
            except ValueError:
                raise ControlError(400, "after must be a message_id") from None
        return web.json_response({"messages": people.inbox(user_id, after)})

    async def history(request: web.Request) -> web.StreamResponse:
        user_id = _user_id(request)
        return web.json_response(
            {"messages": people.history(user_id), "user": people.user(user_id)}
        )

    async def commands(request: web.Request) -> web.StreamResponse:
        return web.json_response(people.commands_for(_user_id(request)))

    return [
        ("GET", "/sandbox/users", get_users),
        ("POST", "/sandbox/users", post_users),
        ("GET", "/sandbox/users/{user_id}", get_user),
        ("POST", "/sandbox/users/{user_id}/block", block),
        ("POST", "/sandbox/users/{user_id}/unblock", unblock),
        ("GET", "/sandbox/users/{user_id}/inbox", inbox),
        ("GET", "/sandbox/users/{user_id}/history", history),
        ("GET", "/sandbox/users/{user_id}/commands", commands),
    ]


def _action_routes(people: PeopleActions) -> list[tuple[str, str, Route]]:
    """What a person does in the chat: send, send a photo, open a link, press, pay."""

    async def acting(
        request: web.Request, act: Callable[[int, dict[str, Any]], Awaitable[dict[str, Any]]]
    ) -> web.StreamResponse:
        """Run a person's action; with ``"wait_reply": <seconds>`` also wait for the bot's first
        message or edit in that chat afterwards and return it as ``reply`` (null if none came)."""
        user_id = _user_id(request)
        people.user(user_id)
        body = await _body(request)
        wait_reply = _number(body, "wait_reply", 0.0)
        if wait_reply < 0 or wait_reply > 60:
            raise ControlError(400, "wait_reply must be between 0 and 60 seconds")
        since = people.chat_version(user_id)
        result = await act(user_id, body)
        if wait_reply > 0:
            result["reply"] = await people.wait_reply(user_id, since, wait_reply)
        return web.json_response(result)

    async def send(request: web.Request) -> web.StreamResponse:
        return await acting(request, lambda user_id, body: people.send(user_id, _str(body, "text")))

    async def send_photo(request: web.Request) -> web.StreamResponse:
        async def act(user_id: int, body: dict[str, Any]) -> dict[str, Any]:
            caption = body.get("caption")
            if caption is not None and not isinstance(caption, str):
                raise ControlError(400, "caption must be a string or null")
            return await people.send_photo(user_id, _photo_bytes(body), caption)

        return await acting(request, act)

    async def open_link(request: web.Request) -> web.StreamResponse:
        return await acting(request, lambda user_id, body: people.open(user_id, _str(body, "url")))

    async def press(request: web.Request) -> web.StreamResponse:
        async def act(user_id: int, body: dict[str, Any]) -> dict[str, Any]:
            wait = _number(body, "wait", 0.0)
            if wait < 0 or wait > 60:
                raise ControlError(400, "wait must be between 0 and 60 seconds")
            return await people.press(
                user_id, _int(body, "message_id"), _str(body, "data"), wait=wait
            )

        return await acting(request, act)

    async def pay(request: web.Request) -> web.StreamResponse:
        return await acting(
            request, lambda user_id, body: people.pay(user_id, _int(body, "message_id"))
        )

    return [
        ("POST", "/sandbox/users/{user_id}/send", send),
        ("POST", "/sandbox/users/{user_id}/send_photo", send_photo),
        ("POST", "/sandbox/users/{user_id}/open", open_link),
        ("POST", "/sandbox/users/{user_id}/press", press),
        ("POST", "/sandbox/users/{user_id}/pay", pay),
    ]


def _operator_routes(operator: Operator) -> list[tuple[str, str, Route]]:
    """The operator's side: the bot, stats, flood limits, redelivery, the clock, files, printed
    codes."""

    async def get_bot(request: web.Request) -> web.StreamResponse:
        return web.json_response(operator.bot_info())

    async def stats(request: web.Request) -> web.StreamResponse:
        return web.json_response(operator.stats())

    async def get_limits(request: web.Request) -> web.StreamResponse:
        return web.json_response(operator.limits())

    async def post_limits(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        current = operator.limits()
        values: dict[str, int | None] = {}
        for name in ("global_per_second", "per_chat_per_second"):
            value = body.get(name, current[name])
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ControlError(400, f"{name} must be a positive integer or null")
            values[name] = value
        return web.json_response(
            operator.set_limits(values["global_per_second"], values["per_chat_per_second"])
        )

    async def redeliver(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        return web.json_response(operator.redeliver(_int(body, "update_id")))

    async def clock(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        if "advance_seconds" not in body:
            raise ControlError(400, "advance_seconds must be a number greater than 0")
        seconds = _number(body, "advance_seconds")
        if seconds <= 0:
            raise ControlError(400, "advance_seconds must be a number greater than 0")
        return web.json_response(await operator.advance_clock(seconds))

    async def codes(request: web.Request) -> web.StreamResponse:
        await operator.refresh_printed_codes()
        return web.json_response({"codes": operator.printed_codes()})

    async def post_codes(request: web.Request) -> web.StreamResponse:
        body = await _body(request)
        listed = body.get("codes")
        if not isinstance(listed, list) or not all(isinstance(c, dict) for c in listed):
            raise ControlError(400, 'codes must be a list of {"label", "url"} objects')
        operator.set_printed_codes(
            _str(body, "kind"), [(_str(code, "label"), _str(code, "url")) for code in listed]
        )
        return web.json_response({"codes": operator.printed_codes()})

    async def file(request: web.Request) -> web.StreamResponse:
        stored = operator.file(request.match_info["file_id"])
        if stored is None:
            raise ControlError(404, "unknown file")
        return file_response(stored)

    return [
        ("GET", "/sandbox/bot", get_bot),
        ("GET", "/sandbox/stats", stats),
        ("GET", "/sandbox/limits", get_limits),
        ("POST", "/sandbox/limits", post_limits),
        ("POST", "/sandbox/redeliver", redeliver),
        ("POST", "/sandbox/clock", clock),
        ("GET", "/sandbox/files/{file_id}", file),
        ("GET", "/sandbox/codes", codes),
        ("POST", "/sandbox/codes", post_codes),
    ]


def add_control_routes(app: web.Application, *, people: PeopleActions, operator: Operator) -> None:
    """Register every ``/sandbox/...`` route of the emulator (``people`` and ``operator`` are the
    same emulator, seen from each side) on ``app``."""
    routes = _people_routes(people) + _action_routes(people) + _operator_routes(operator)
    for method, path, handler in routes:
        app.router.add_route(method, path, _guard(handler))
