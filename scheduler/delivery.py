"""The delivery worker: drains the outbox within Telegram's limits.

One `RateBudget` per process is shared by the worker and by the bot's replies (a request
middleware takes a token before every sending call): at most `per_second` messages a second in
all, at most one a second to any one chat from the outbox, and everything pauses for
`retry_after` when Telegram answers 429. Replies waiting for a token get it before the outbox
does, so a diner tapping a button during a 100,000-message broadcast is answered at once.

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
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import SendMessage, SendPhoto, TelegramMethod
from aiogram.methods.base import Response, TelegramType
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty import outbox
from loyalty.clock import Clock
from scheduler.shared import SharedWindow

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
    """Paced slots for all sends, at most `per_second` reaching Telegram in any one second, a
    minimum interval per chat, and a global pause.

    Telegram counts a send when it arrives, which is somewhere between the moment the slot is
    granted and the moment the answer comes back. So the budget counts a send as "in the last
    second" from its grant until one second after its answer: a slot is granted only while fewer
    than `per_second` sends are in flight or were answered less than a second ago. That holds
    whatever the delay on the way (a busy event loop, a slow network), so the flood limit is never
    crossed by the bot's own timing; the price is the round trip, not a fixed margin. Within that,
    slots are paced 1/`per_second` s apart so that sends go out evenly rather than in bursts;
    at 100/s and above, slots missed while the event loop was busy are made up, up to a tenth of
    a second's worth. A chat's next outbox send waits for one second after the answer to its
    previous one.

    Every `acquire` must be followed by `release` once Telegram has answered (or the send gave
    up): `sending()` does both.

    Who gets a free slot: replies to people (``reply=True``, the bot's own sends) come first, in
    the order they asked; outbox sends get the slots no reply is waiting for, in the order they
    asked. So a diner's answer waits for at most the slot in hand, not for the broadcast queued
    before it, and with no replies waiting the outbox has every slot. An outbox send waits for its
    chat's interval before it queues, so a chat sent to a moment ago never holds up the others."""

    def __init__(
        self, per_second: int = DEFAULT_PER_SECOND, *, shared: SharedWindow | None = None
    ) -> None:
        self.per_second = max(1, per_second)
        self.shared = shared
        """With several processes on one bot token (REDIS_URL): the token's window, per-chat
        interval and pauses across all of them, taken after this process's own slot."""
        self._interval = 1.0 / self.per_second
        # After a stall (the event loop busy elsewhere, e.g. with the next batch) up to a tenth
        # of a second's slots are taken at once at paid-broadcast rates; the window rule keeps
        # that burst within Telegram's second. At 30/s and below a slot is longer than such a
        # stall: one late slot, and a bot's replies keep their pace.
        catch_up = self.per_second // 10 if self.per_second >= 100 else 1
        self._catch_up = catch_up * self._interval
        self._next_slot = 0.0
        self._paused_until = 0.0
        self._in_flight = 0
        self._answered: deque[float] = deque()  # when recent sends were answered, oldest first
        self._chat_next: dict[int, float] = {}
        # Waiting for a slot: replies first, then the outbox, each first come first served.
        # The future is set to True with the slot, to False when its chat must wait again.
        self._replies: deque[asyncio.Future[bool]] = deque()
        self._outbox: deque[tuple[asyncio.Future[bool], int | None]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def pause(self, seconds: float) -> None:
        """Telegram said 429: nobody sends until `seconds` from now."""
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    @contextlib.asynccontextmanager
    async def sending(
        self, chat_id: int | None = None, *, reply: bool = False
    ) -> AsyncIterator[None]:
        """A slot for one send, held until Telegram has answered it."""
        await self.acquire(chat_id, reply=reply)
        token = None
        try:
            if self.shared is not None:
                token = await self.shared.take(chat_id)
            yield
        finally:
            self.release(chat_id)
            if token is not None:
                assert self.shared is not None
                # the send is done whatever Redis says now: failing here would make the outbox
                # send it again; an entry not given back leaves the window with its lease
                try:
                    await self.shared.give_back(token, chat_id)
                except Exception:
                    log.warning("shared send window: could not give a slot back", exc_info=True)

    async def acquire(self, chat_id: int | None = None, *, reply: bool = False) -> None:
        """Wait for a slot (and, with `chat_id`, for that chat's interval). `reply`: a send the
        bot makes for someone waiting in the chat, served before any outbox send. Call `release`
        when the send is answered."""
        loop = asyncio.get_running_loop()
        while True:
            if chat_id is not None:
                wait = self._chat_next.get(chat_id, 0.0) - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(min(wait, PER_CHAT_INTERVAL))
                    continue
            granted: asyncio.Future[bool] = loop.create_future()
            if reply:
                self._replies.append(granted)
            else:
                self._outbox.append((granted, chat_id))
            if self._timer is None:  # else the timer hands out the next slot, to whom is due
                self._grant()
            # Cancelled while waiting: the future is cancelled too and _grant skips it; cancelled
            # just after the slot was granted: the slot goes back.
            try:
                if await granted:
                    return
            except asyncio.CancelledError:
                if granted.done() and not granted.cancelled() and granted.result():
                    self.release(chat_id)
                raise

    def release(self, chat_id: int | None = None) -> None:
        """The send holding a slot was answered (or gave up)."""
        now = time.monotonic()
        self._in_flight -= 1
        self._answered.append(now)
        if chat_id is not None:
            self._chat_next[chat_id] = now + PER_CHAT_INTERVAL
        if self._timer is None:
            self._grant()

    def _window_opens(self, now: float) -> float:
        """When the next send may be granted as far as the one-second window goes: now, or when
        the oldest answered send that keeps it full leaves it; inf while in-flight sends alone
        fill it (a release re-runs the grant)."""
        answered = self._answered
        while answered and answered[0] <= now - 1.0:
            answered.popleft()
        over = self._in_flight + len(answered) - self.per_second
        if over < 0:
            return now
        if over >= len(answered):
            return float("inf")
        return answered[over] + 1.0

    def _grant(self) -> None:
        """Hand out every slot that is due, to the waiters in turn; wake up for the next one."""
        self._timer = None
        now = time.monotonic()
        while True:
            waiter = self._next_waiter()
            if waiter is None:
                return
            granted, chat_id = waiter
            start = max(
                self._paused_until,
                self._next_slot,
                now - self._interval,
                self._window_opens(now),
            )
            if start > now:
                if start != float("inf"):
                    loop = granted.get_loop()
                    self._timer = loop.call_later(start - now, self._grant)
                return
            self._take_next()
            if chat_id is not None and self._chat_next.get(chat_id, 0.0) > now:
                granted.set_result(False)  # its chat was sent to meanwhile: it waits again
                continue
            self._next_slot = max(self._next_slot, now - self._catch_up) + self._interval
            self._in_flight += 1
            if chat_id is not None:
                self._chat_next[chat_id] = float("inf")  # until its answer (release)
                if len(self._chat_next) > 100_000:
                    self._forget(now)
            granted.set_result(True)

    def _next_waiter(self) -> tuple[asyncio.Future[bool], int | None] | None:
        """The waiter who gets the next slot (left in its queue): the first reply, else the first
        outbox send. Waiters that gave up (cancelled) are dropped on the way."""
        while self._replies and self._replies[0].done():
            self._replies.popleft()
        if self._replies:
            return self._replies[0], None
        while self._outbox and self._outbox[0][0].done():
            self._outbox.popleft()
        return self._outbox[0] if self._outbox else None

    def _take_next(self) -> None:
        """Remove the waiter _next_waiter returned from its queue."""
        if self._replies:
            self._replies.popleft()
        else:
            self._outbox.popleft()

    def _forget(self, now: float) -> None:
        for chat in [c for c, t in self._chat_next.items() if t <= now]:
            del self._chat_next[chat]


class BudgetMiddleware(BaseRequestMiddleware):
    """Replies to people draw on the same budget as the outbox, ahead of it."""

    def __init__(self, budget: RateBudget) -> None:
        self.budget = budget

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if method.__api_method__ in _SENDING_METHODS:
            async with self.budget.sending(reply=True):
                return await make_request(bot, method)
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
    _in_hand: set[int] = field(default_factory=set)  # ids of the rows claimed and not yet marked

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
                async with self._turn:
                    done = await self._stream()
            except Exception:
                log.exception("outbox delivery failed; retrying")
                done = 0
            if done == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=self.idle_sleep)

    async def _stream(self) -> int:
        """Send batches back to back while any are due; returns how many rows were handled.

        The next batch is claimed, and queued for slots behind the one going out, as soon as the
        batch before that is done: with two batches in hand, sending never stops for the
        database (claiming and marking 2,000 rows took ~0.3 s per batch, a tenth of the rate at
        1000/s)."""
        total = 0
        batches: deque[asyncio.Task[int]] = deque()
        try:
            while not self._stop.is_set():
                if len(batches) == 2:
                    total += await batches.popleft()
                rows = await self._claim()
                if not rows:
                    break
                batches.append(asyncio.create_task(self._deliver(rows)))
        finally:
            for done in await asyncio.gather(*batches, return_exceptions=True):
                if isinstance(done, BaseException):
                    log.error("outbox batch failed", exc_info=done)
                else:
                    total += done
        return total

    async def run_until_idle(self) -> int:
        """Deliver everything due now (tests and the sandbox clock)."""
        total = 0
        while (done := await self.run_once()) > 0:
            total += done
        return total

    async def run_once(self) -> int:
        """Claim one batch and send it; returns how many rows were handled. The loop and the
        sandbox clock's drain take turns: leases only ever arbitrate between processes, so a
        clock moved forward must not let a claim take rows this process has in flight (those
        are also skipped by id, for the loop's own overlapping batches)."""
        async with self._turn:
            rows = await self._claim()
            return await self._deliver(rows) if rows else 0

    async def _claim(self) -> list[outbox.Claimed]:
        async with self.session_factory() as session, session.begin():
            rows = await outbox.claim(
                session, now=self.clock.now(), limit=self.batch, lease=self.lease
            )
        rows = [row for row in rows if row.id not in self._in_hand]
        self._in_hand.update(row.id for row in rows)
        return rows

    async def _deliver(self, rows: list[outbox.Claimed]) -> int:
        """Send a claimed batch and mark what went out; returns how many rows were handled."""
        try:
            # One send failing in an unforeseen way must not keep the others from being marked
            # sent (they would go out again when the lease runs out); its own row stays leased.
            results = await asyncio.gather(
                *(self._send(row) for row in rows), return_exceptions=True
            )
            sent = []
            for result in results:
                if isinstance(result, BaseException):
                    log.error("outbox send failed", exc_info=result)
                elif result[1] is not None:
                    sent.append((result[0].id, result[1]))
            async with self.session_factory() as session, session.begin():
                await outbox.mark_sent(session, sent=sent, now=self.clock.now())
        finally:
            self._in_hand.difference_update(row.id for row in rows)
        return len(rows)

    async def _send(self, row: outbox.Claimed) -> tuple[outbox.Claimed, int | None]:
        try:
            async with self.budget.sending(row.telegram_id):  # released with the answer
                message_id = await self._request(row)
        except TelegramRetryAfter as exc:
            self.budget.pause(exc.retry_after)
            if self.budget.shared is not None:
                await self.budget.shared.pause(exc.retry_after)
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
        except Exception as exc:  # anything else: counted, so it ends as failed, not forever
            log.exception("outbox row %s: unexpected error", row.id)
            backoff = min(300, 2 ** (row.attempts + 1))
            await self._finish(row, retry_in=backoff, error=f"error: {exc}", counts=True)
        else:
            return row, message_id
        return row, None

    async def _request(self, row: outbox.Claimed) -> int:
        """Send one row's message; its message id.

        The outbox posts its JSON straight through the bot's HTTP session and reads only the
        message id from a success: aiogram's method objects and its parsing of the whole
        message Telegram sends back were two thirds of the worker's CPU at 1000 messages/s, and
        the worker needs none of it. Failures still go through aiogram's own reading of the
        answer, so they raise the same exceptions as any other call."""
        payload: dict[str, Any] = {"chat_id": row.telegram_id}
        if row.photo:
            method, payload["photo"], payload["caption"] = "sendPhoto", row.photo, row.text
        else:
            method, payload["text"] = "sendMessage", row.text
        if row.buttons:
            payload["reply_markup"] = {"inline_keyboard": json.loads(row.buttons)}
        if self.paid_broadcast:
            payload["allow_paid_broadcast"] = True
        return await _post(self.bot, method, payload)

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


async def _post(bot: Bot, method: str, payload: dict[str, Any]) -> int:
    """POST one sending method as JSON; the sent message's id. Errors are read by aiogram, as
    for any call: TelegramRetryAfter, TelegramForbiddenError, TelegramBadRequest, ..."""
    session = bot.session
    if not isinstance(session, AiohttpSession):
        raise TypeError("the outbox sends through aiogram's AiohttpSession")
    http = await session.create_session()
    url = session.api.api_url(token=bot.token, method=method)
    body = json.dumps(payload, ensure_ascii=False)
    try:
        async with http.post(
            url,
            data=body,
            headers={"Content-Type": "application/json"},
            timeout=aiohttp.ClientTimeout(total=session.timeout),
        ) as response:
            raw = await response.text()
            status = response.status
    except TimeoutError as exc:
        raise TelegramNetworkError(method=_METHODS[method](**payload), message="timeout") from exc
    except aiohttp.ClientError as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise TelegramNetworkError(method=_METHODS[method](**payload), message=reason) from exc
    if status == 200:
        answer = json.loads(raw)
        if answer.get("ok"):
            return int(answer["result"]["message_id"])
    session.check_response(
        bot=bot, method=_METHODS[method](**payload), status_code=status, content=raw
    )  # raises the matching aiogram exception
    raise TelegramAPIError(method=_METHODS[method](**payload), message=raw[:200])


_METHODS: dict[str, type[SendMessage] | type[SendPhoto]] = {
    "sendMessage": SendMessage,
    "sendPhoto": SendPhoto,
}
