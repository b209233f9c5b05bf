"""The delivery worker: drains the outbox within Telegram's limits.

One `RateBudget` per process is shared by the worker and by the bot's replies (a request
middleware takes a token before every sending call): at most `per_second` messages a second in
all, at most one a second to any one chat from the outbox, and everything pauses for
`retry_after` when Telegram answers 429.

Outcomes: accepted → sent; 429 → back to pending after the pause (not an error); 403 → the person
blocked the bot: unreachable, never retried; another 400 → failed with the reason; a network or
server error → retried with exponential backoff, up to outbox.MAX_ATTEMPTS.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty import outbox
from loyalty.clock import Clock

log = logging.getLogger(__name__)

DEFAULT_PER_SECOND = 25
PER_CHAT_INTERVAL = 1.0
_SENDING_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendInvoice",
        "sendMediaGroup",
        "copyMessage",
        "forwardMessage",
    }
)


class RateBudget:
    """Paced slots for all sends, a minimum interval per chat, and a global pause.

    Slots are 1/(limit − 1) s apart and at most one can be taken late, so any one-second window
    (the way Telegram counts) holds at most 1 + (limit − 1) sends; a send that wakes up a little
    late does not push the next slot back, so the rate holds at (limit − 1)/s."""

    def __init__(self, per_second: int = DEFAULT_PER_SECOND) -> None:
        self.per_second = per_second
        self._interval = 1.0 / max(1, per_second - 1)
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._chat_next: dict[int, float] = {}
        self._lock = asyncio.Lock()

    def pause(self, seconds: float) -> None:
        """Telegram said 429: nobody sends until `seconds` from now."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def acquire(self, chat_id: int | None = None) -> None:
        """Wait for a slot (and, with `chat_id`, for that chat's interval)."""
        while True:
            async with self._lock:
                now = time.monotonic()
                wait = self._paused_until - now
                if chat_id is not None:
                    wait = max(wait, self._chat_next.get(chat_id, 0.0) - now)
                if wait <= 0:
                    slot = max(self._next_slot, now - self._interval)
                    if slot <= now:
                        self._next_slot = slot + self._interval
                        if chat_id is not None:
                            self._chat_next[chat_id] = now + PER_CHAT_INTERVAL
                            if len(self._chat_next) > 100_000:
                                self._forget(now)
                        return
                    wait = slot - now
            await asyncio.sleep(wait)

    def _forget(self, now: float) -> None:
        for chat in [c for c, t in self._chat_next.items() if t <= now]:
            del self._chat_next[chat]


_TOKEN_TAKEN: ContextVar[bool] = ContextVar("outbox_token_taken", default=False)
"""Set while the worker sends: it took its token (and the chat's slot) already."""


class BudgetMiddleware(BaseRequestMiddleware):
    """Replies to people draw on the same budget as the outbox."""

    def __init__(self, budget: RateBudget) -> None:
        self.budget = budget

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if method.__api_method__ in _SENDING_METHODS and not _TOKEN_TAKEN.get():
            await self.budget.acquire()
        return await make_request(bot, method)


@dataclass(slots=True)
class DeliveryWorker:
    bot: Bot
    session_factory: async_sessionmaker[AsyncSession]
    clock: Clock
    budget: RateBudget
    batch: int = 50
    lease: timedelta = outbox.LEASE
    idle_sleep: float = 0.5
    paid_broadcast: bool = False
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _turn: asyncio.Lock = field(default_factory=asyncio.Lock)

    def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._loop(), name="outbox-delivery")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                done = await self.run_once()
            except Exception:
                log.exception("outbox delivery failed; retrying")
                done = 0
            if done == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=self.idle_sleep)

    async def run_until_idle(self) -> int:
        """Deliver everything due now (tests and the sandbox clock)."""
        total = 0
        while (done := await self.run_once()) > 0:
            total += done
        return total

    async def run_once(self) -> int:
        """Claim one batch and send it; returns how many rows were handled. One batch at a time
        per process (the loop and the sandbox clock's drain take turns): leases only ever
        arbitrate between processes, so a clock moved forward cannot re-send what is in flight."""
        async with self._turn:
            return await self._run_once()

    async def _run_once(self) -> int:
        async with self.session_factory() as session, session.begin():
            rows = await outbox.claim(
                session, now=self.clock.now(), limit=self.batch, lease=self.lease
            )
        if not rows:
            return 0
        results = await asyncio.gather(*(self._send(row) for row in rows))
        sent = [(row.id, message_id) for row, message_id in results if message_id is not None]
        async with self.session_factory() as session, session.begin():
            await outbox.mark_sent(session, sent=sent, now=self.clock.now())
        return len(rows)

    async def _send(self, row: outbox.Claimed) -> tuple[outbox.Claimed, int | None]:
        await self.budget.acquire(row.telegram_id)
        extra: dict[str, Any] = {"allow_paid_broadcast": True} if self.paid_broadcast else {}
        taken = _TOKEN_TAKEN.set(True)
        try:
            markup = _markup(row.buttons)
            if row.photo:
                message = await self.bot.send_photo(
                    row.telegram_id, row.photo, caption=row.text, reply_markup=markup, **extra
                )
            else:
                message = await self.bot.send_message(
                    row.telegram_id, row.text, reply_markup=markup, **extra
                )
        except TelegramRetryAfter as exc:
            self.budget.pause(exc.retry_after)
            await self._finish(
                row,
                retry_in=exc.retry_after,
                error=f"429 retry after {exc.retry_after}",
                counts=False,
            )
        except TelegramForbiddenError as exc:
            await self._final(row, outbox.UNREACHABLE, f"403 {exc.message}")
        except TelegramBadRequest as exc:
            await self._final(row, outbox.FAILED, f"400 {exc.message}")
        except (TelegramNetworkError, TelegramServerError, TimeoutError, OSError) as exc:
            backoff = min(300, 2 ** (row.attempts + 1))
            await self._finish(row, retry_in=backoff, error=f"network: {exc}", counts=True)
        else:
            return row, message.message_id
        finally:
            _TOKEN_TAKEN.reset(taken)
        return row, None

    async def _finish(
        self, row: outbox.Claimed, *, retry_in: float, error: str, counts: bool
    ) -> None:
        at = self.clock.now() + timedelta(seconds=retry_in)
        async with self.session_factory() as session, session.begin():
            await outbox.mark_retry(session, row=row, at=at, error=error, counts=counts)

    async def _final(self, row: outbox.Claimed, status: str, error: str) -> None:
        async with self.session_factory() as session, session.begin():
            await outbox.mark_final(
                session, row=row, status=status, error=error, now=self.clock.now()
            )


def _markup(buttons: str | None) -> InlineKeyboardMarkup | None:
    """The inline keyboard an outbox row carries (see loyalty.outbox.keyboard_json)."""
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [InlineKeyboardButton(**button) for button in row] for row in json.loads(buttons)
        ]
    )
