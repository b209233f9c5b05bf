"""The update queue: getUpdates long polling and webhook delivery."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import aiohttp

from .errors import ApiError
from .params import Params, Upload

log = logging.getLogger(__name__)

ALL_UPDATE_TYPES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
DEFAULT_UPDATE_TYPES = frozenset(ALL_UPDATE_TYPES) - {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}
_MAX_RETRY_DELAY = 60.0
_REMEMBERED_UPDATES = 100_000  # how far back /sandbox/redeliver can reach
_SCAN_LIMIT = 2_000  # pending updates looked at per scheduling round of the webhook

WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)

Execute = Callable[[str, Params], Awaitable[None]]


async def _read_reply(response: aiohttp.ClientResponse) -> tuple[str, Params] | None:
    """A method call in a webhook response body: JSON, a urlencoded or a multipart form."""
    values: dict[str, Any] = {}
    uploads: dict[str, Upload] = {}
    try:
        if response.content_type.startswith("multipart/"):
            reader = aiohttp.MultipartReader.from_response(response)
            while (part := await reader.next()) is not None:
                if not isinstance(part, aiohttp.BodyPartReader) or not part.name:
                    continue
                data = await part.read(decode=True)
                if part.filename:
                    kind = part.headers.get(aiohttp.hdrs.CONTENT_TYPE)
                    uploads[part.name] = Upload(bytes(data), part.filename, kind)
                else:
                    values[part.name] = bytes(data).decode(part.get_charset("utf-8"))
        else:
            body = await response.read()
            if response.content_type == "application/x-www-form-urlencoded":
                values = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            elif body.strip():
                decoded = json.loads(body)
                if not isinstance(decoded, dict):
                    return None
                values = decoded
    except (ValueError, aiohttp.ClientError):
        return None
    method = values.pop("method", None)
    if not isinstance(method, str) or not method:
        return None
    return method, Params(values, uploads)


def update_type(update: dict[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "")


def _chat_key(update: dict[str, Any]) -> int:
    """Which person an update belongs to (deliveries for one person stay in order)."""
    body = update.get(update_type(update))
    if isinstance(body, dict):
        for holder in ("chat", "from"):
            value = body.get(holder)
            if isinstance(value, dict) and isinstance(value.get("id"), int):
                return int(value["id"])
    return 0


@dataclass(eq=False, slots=True)
class _Pending:
    update: dict[str, Any]
    redelivered: bool = False
    returned: bool = False
    attempts: int = 0
    retry_at: float = 0.0
    in_flight: bool = False

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])


class UpdateHub:
    """Holds undelivered updates and hands them out by getUpdates or by webhook."""

    def __init__(self, clock: Callable[[], float], execute: Execute, retry_delay: float) -> None:
        self._clock = clock
        self._execute = execute
        self._retry_delay = retry_delay
        self._next_id = secrets.randbelow(400_000_000) + 100_000_000
        self._pending: list[_Pending] = []
        self._produced: dict[int, dict[str, Any]] = {}
        self.produced_count = 0
        self._allowed: list[str] | None = None
        self._poll: asyncio.Future[str] | None = None
        # webhook
        self.url = ""
        self.secret: str | None = None
        self.max_connections = 40
        self.last_error_date: int | None = None
        self.last_error_message: str | None = None
        self._worker: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._deliveries: set[asyncio.Task[None]] = set()
        self._closed = False

    # -- producing -------------------------------------------------------------------------

    def allowed(self) -> frozenset[str]:
        if self._allowed:
            return frozenset(self._allowed)
        return DEFAULT_UPDATE_TYPES

    def set_allowed(self, allowed: list[str] | None) -> None:
        if allowed is not None:
            self._allowed = [kind for kind in allowed if kind in ALL_UPDATE_TYPES] or None
            if allowed and not self._allowed:
                # Only unknown names: Telegram then delivers nothing of the default set either.
                self._allowed = []

    @property
    def allowed_list(self) -> list[str] | None:
        return None if self._allowed is None else list(self._allowed)

    def produce(self, kind: str, body: dict[str, Any]) -> int:
        """Create an update; queue it when the bot receives this kind. Returns its update_id."""
        update_id = self._next_id
        self._next_id += 1
        update = {"update_id": update_id, kind: body}
        self._produced[update_id] = update
        if len(self._produced) > _REMEMBERED_UPDATES:
            del self._produced[next(iter(self._produced))]
        self.produced_count += 1
        if kind in self.allowed():
            self._enqueue(_Pending(update))
        return update_id

    def redeliver(self, update_id: int) -> bool:
        update = self._produced.get(update_id)
        if update is None:
            return False
        self._enqueue(_Pending(update, redelivered=True))
        return True

    def _enqueue(self, entry: _Pending) -> None:
        if not self._pending or self._pending[-1].update_id <= entry.update_id:
            self._pending.append(entry)
        else:
            bisect.insort_right(self._pending, entry, key=lambda pending: pending.update_id)
        if self._poll is not None and not self._poll.done():
            self._poll.set_result("update")
        if self._wake is not None:
            self._wake.set()

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def drop_pending(self) -> None:
        self._pending = [entry for entry in self._pending if entry.in_flight]
        for entry in self._pending:
            entry.redelivered = False
            entry.returned = True

    # -- getUpdates ------------------------------------------------------------------------

    def _confirm(self, offset: int) -> None:
        if offset < 0:
            self._pending = self._pending[offset:]
            return
        self._pending = [
            entry
            for entry in self._pending
            if entry.update_id >= offset or (entry.redelivered and not entry.returned)
        ]

    def _take(self, limit: int) -> list[dict[str, Any]]:
        batch = self._pending[:limit]
        for entry in batch:
            entry.returned = True
        return [entry.update for entry in batch]

    async def get_updates(
        self, offset: int | None, limit: int, timeout: float, allowed: list[str] | None
    ) -> list[dict[str, Any]]:
        if self.url:
            raise ApiError(409, WEBHOOK_CONFLICT)
        self.set_allowed(allowed)
        if self._poll is not None and not self._poll.done():
            self._poll.set_result("terminated")
        if offset is not None:
            self._confirm(offset)
        if self._pending or timeout <= 0 or self._closed:
            return self._take(limit)
        poll: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._poll = poll
        try:
            outcome = await asyncio.wait_for(asyncio.shield(poll), timeout)
        except TimeoutError:
            outcome = "timeout"
        finally:
            if self._poll is poll:
                self._poll = None
        if outcome == "terminated":
            raise ApiError(409, POLL_CONFLICT)
        if outcome == "webhook":
            raise ApiError(409, "Conflict: terminated by setWebhook request")
        if outcome == "closed":
            return []
        return self._take(limit)

    # -- webhook ---------------------------------------------------------------------------

    def set_webhook(
        self, url: str, secret: str | None, max_connections: int, allowed: list[str] | None
    ) -> bool:
        """Set the webhook; True when something changed."""
        self.set_allowed(allowed)
        changed = (url, secret, max_connections) != (self.url, self.secret, self.max_connections)
        restart = url != self.url or self._worker is None
        self.url, self.secret, self.max_connections = url, secret, max_connections
        if self._poll is not None and not self._poll.done():
            self._poll.set_result("webhook")
        if restart:
            self.last_error_date = None
            self.last_error_message = None
            self._stop_worker()
            self._wake = asyncio.Event()
            self._worker = asyncio.create_task(self._run_webhook(), name="sandbox-webhook")
        elif self._wake is not None:
            self._wake.set()
        return changed

    def delete_webhook(self) -> bool:
        had = bool(self.url)
        self.url = ""
        self.secret = None
        self.max_connections = 40
        self.last_error_date = None
        self.last_error_message = None
        self._stop_worker()
        return had

    def _stop_worker(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
        self._wake = None

    def webhook_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": self.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if self.url:
            info["ip_address"] = "127.0.0.1"
            if self.last_error_date is not None:
                info["last_error_date"] = self.last_error_date
                info["last_error_message"] = self.last_error_message
            info["max_connections"] = self.max_connections
            if self._allowed is not None:
                info["allowed_updates"] = list(self._allowed)
        return info

    async def _run_webhook(self) -> None:
        wake = self._wake
        assert wake is not None
        loop = asyncio.get_running_loop()
        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60))
        deliveries: set[asyncio.Task[None]] = set()
        try:
            while True:
                wake.clear()
                now = loop.time()
                next_retry: float | None = None
                busy_people: set[int] = set()
                in_flight = sum(1 for entry in self._pending if entry.in_flight)
                for entry in self._pending[: max(_SCAN_LIMIT, 20 * self.max_connections)]:
                    person = _chat_key(entry.update)
                    if person in busy_people:
                        continue
                    busy_people.add(person)
                    if entry.in_flight:
                        continue
                    if in_flight >= self.max_connections:
                        break
                    if entry.retry_at > now:
                        next_retry = (
                            entry.retry_at
                            if next_retry is None
                            else min(next_retry, entry.retry_at)
                        )
                        continue
                    entry.in_flight = True
                    in_flight += 1
                    task = asyncio.create_task(self._deliver(session, entry, wake))
                    deliveries.add(task)
                    task.add_done_callback(deliveries.discard)
                timeout = None if next_retry is None else max(0.0, next_retry - now)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout)
        finally:
            for task in list(deliveries):
                task.cancel()
            if deliveries:
                await asyncio.gather(*deliveries, return_exceptions=True)
            for entry in self._pending:
                entry.in_flight = False
            await session.close()

    async def _deliver(
        self, session: aiohttp.ClientSession, entry: _Pending, wake: asyncio.Event
    ) -> None:
        headers = {"Content-Type": "application/json"}
        if self.secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.secret
        error: str | None = None
        reply: tuple[str, Params] | None = None
        try:
            async with session.post(
                self.url, data=json.dumps(entry.update), headers=headers
            ) as response:
                if 200 <= response.status < 300:
                    reply = await _read_reply(response)
                else:
                    error = f"Wrong response from the webhook: {response.status} {response.reason}"
        except TimeoutError:
            error = "Read timeout expired"
        except aiohttp.ClientConnectorError:
            error = "Connection refused"
        except (aiohttp.ClientError, OSError) as exc:
            error = f"Connection error: {type(exc).__name__}"
        finally:
            entry.in_flight = False
        if error is None:
            with contextlib.suppress(ValueError):
                self._pending.remove(entry)
            if reply is not None:
                await self._run_reply(*reply)
        else:
            entry.attempts += 1
            delay = min(self._retry_delay * 2 ** (entry.attempts - 1), _MAX_RETRY_DELAY)
            entry.retry_at = asyncio.get_running_loop().time() + delay
            self.last_error_date = int(self._clock())
            self.last_error_message = error.strip()
        wake.set()

    async def _run_reply(self, method: str, params: Params) -> None:
        """Telegram executes a method given in the webhook response body."""
        try:
            await self._execute(method, params)
        except Exception:  # the bot is never told about errors of a webhook reply
            log.debug("webhook reply %s failed", method, exc_info=True)

    # -- shutdown --------------------------------------------------------------------------

    async def close(self) -> None:
        self._closed = True
        if self._poll is not None and not self._poll.done():
            self._poll.set_result("closed")
        worker = self._worker
        self._stop_worker()
        if worker is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await worker
