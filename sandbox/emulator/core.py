"""BotAPIEmulator: a local stand-in for the Telegram Bot API and for the people using it."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from .base import Described
from .botapi import BotApiMethods
from .codes import PrintedCode, check_kind, check_label
from .control import add_control_routes
from .errors import ApiError, ControlError
from .files import StoredFile, file_response
from .params import read_params
from .people import PeopleActions

log = logging.getLogger(__name__)


class BotAPIEmulator(BotApiMethods, PeopleActions):
    """The Telegram Bot API for one bot, plus a control API that plays the people.

    Serve it with :meth:`build_app` or :meth:`add_routes`: the bot talks to
    ``/bot{token}/{method}`` (and downloads from ``/file/bot{token}/{path}``); people (the web
    chat, tests, benchmarks) act through ``/sandbox/...``. Every ``date`` comes from ``clock``.

    Keyword arguments: ``token`` (default: a random realistic one), ``username``,
    ``first_name``, ``clock``, ``on_clock_advance`` (awaited by ``POST /sandbox/clock``),
    ``payment_timeout``, ``global_per_second`` / ``per_chat_per_second`` (flood limits, off by
    default), ``public_url`` (base of file URLs; empty: relative URLs) and
    ``webhook_retry_delay`` (first retry delay after a failed webhook delivery) and
    ``on_codes_refresh`` (awaited before the printed codes are listed, and before an opened link
    whose payload is not registered is labelled: the app registers its current codes then).
    """

    def build_app(self) -> web.Application:
        """A stand-alone aiohttp application serving the emulator (uploads up to 60 MB)."""
        app = web.Application(client_max_size=60 * 1024 * 1024)
        self.add_routes(app)
        return app

    def add_routes(self, app: web.Application) -> None:
        """Register the Bot API, file and control routes on an existing application.

        The application's ``client_max_size`` (1 MB by default) limits uploaded files.
        """
        app.router.add_route("*", "/bot{token}/{method}", self._handle_bot_api)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_file_path)
        add_control_routes(app, people=self, operator=self)
        app.on_cleanup.append(self._on_cleanup)

    def _printed(self, kind: str, label: str, url: str) -> PrintedCode:
        payload = self.start_payload(url)
        if payload is None:
            raise ControlError(400, f"the link carries no start payload: {url}")
        return PrintedCode(check_kind(kind), check_label(label), url.strip(), payload)

    def add_printed_code(self, label: str, url: str, *, kind: str = "code") -> None:
        """A QR code a person could scan in the room (e.g. a table sticker), for the web chat.

        ``url`` is a deep link to this bot with a start payload; opening it later shows as
        "Scanned: <label>" in the web chat. Raises :class:`ControlError` for a bad code."""
        self._codes.add(self._printed(kind, label, url))

    def set_printed_codes(self, kind: str, codes: Iterable[tuple[str, str]]) -> None:
        """The printed codes of ``kind`` are now exactly ``codes`` (label, deep link) pairs."""
        printed = [self._printed(kind, label, url) for label, url in codes]
        self._codes.replace(check_kind(kind), printed)

    def printed_codes(self) -> list[dict[str, str]]:
        """Every registered code: kind, label, deep link and payload, grouped by kind."""
        return [code.control() for code in self._codes.all()]

    async def _on_cleanup(self, app: web.Application) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop webhook delivery, answer any waiting long poll, close outgoing connections."""
        if self._closed:
            return
        self._closed = True
        await self._hub.close()
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def _handle_bot_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _api_response(ApiError(401, "Unauthorized"))
        try:
            params = await read_params(request)
            result = await self.call(request.match_info["method"], params)
        except ApiError as error:
            return _api_response(error)
        except Exception:
            log.exception("sandbox Bot API method %s failed", request.match_info["method"])
            return _api_response(ApiError(500, "Internal Server Error"))
        body: dict[str, Any] = {"ok": True}
        if isinstance(result, Described):
            body["result"] = result.result
            body["description"] = result.description
        else:
            body["result"] = result
        return web.json_response(body)

    async def _handle_file_path(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _api_response(ApiError(401, "Unauthorized"))
        stored = self._files.by_path(request.match_info["file_path"])
        if stored is None:
            return _api_response(ApiError(404, "Not Found"))
        return file_response(stored)

    def stats(self) -> dict[str, Any]:
        return {
            "calls": dict(sorted(self._calls.items())),
            "status_429": self._status_429,
            "status_403": self._status_403,
            "updates": self._hub.produced_count,
            "pending_updates": self._hub.pending_count,
        }

    def bot_info(self) -> dict[str, Any]:
        return {
            "token": self.token,
            "username": self.username,
            "id": self.bot_id,
            "first_name": self.first_name,
        }

    def limits(self) -> dict[str, int | None]:
        return {
            "global_per_second": self._limiter.global_per_second,
            "per_chat_per_second": self._limiter.per_chat_per_second,
        }

    def set_limits(
        self, global_per_second: int | None, per_chat_per_second: int | None
    ) -> dict[str, int | None]:
        for name, value in (
            ("global_per_second", global_per_second),
            ("per_chat_per_second", per_chat_per_second),
        ):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise ControlError(400, f"{name} must be a positive integer or null")
            if value is not None and value < 1:
                raise ControlError(400, f"{name} must be a positive integer or null")
        self._limiter.global_per_second = global_per_second
        self._limiter.per_chat_per_second = per_chat_per_second
        return self.limits()

    def redeliver(self, update_id: int) -> dict[str, Any]:
        """Queue an already produced update again, unchanged (same update_id)."""
        if not self._hub.redeliver(update_id):
            raise ControlError(404, f"unknown update {update_id}")
        return {"update_id": update_id}

    async def advance_clock(self, seconds: float) -> dict[str, Any]:
        if self._on_clock_advance is None:
            raise ControlError(
                409,
                "the clock can only be moved in a sandbox run "
                "(application and emulator in one process)",
            )
        result = await self._on_clock_advance(seconds)
        return {"ok": True, **result}

    def file(self, file_id: str) -> StoredFile | None:
        return self._files.get(file_id)


def _api_response(error: ApiError) -> web.Response:
    return web.json_response(error.to_json(), status=error.code)
