"""Live modes: long polling against a Bot API server, or a webhook server."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from typing import Any
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler
from aiohttp import web
from redis.asyncio import Redis

from bot.config import RunMode, Settings
from bot.factory import build_bot, build_dispatcher, build_worker
from bot.http import add_app_routes
from bot.services import Services
from bot.telegram_profile import present_bot
from loyalty.clock import SystemClock
from scheduler import JobContext, Scheduler, default_jobs
from scheduler.delivery import RateBudget
from scheduler.shared import LeaderLease, SharedWindow

log = logging.getLogger(__name__)


def webhook_secret(secret_key: bytes) -> str:
    """The `X-Telegram-Bot-Api-Secret-Token` value, derived so it needs no setting of its own."""
    return hmac.new(secret_key, b"telegram-webhook", hashlib.sha256).hexdigest()


def webhook_path(webhook_url: str) -> str:
    path = urlsplit(webhook_url).path
    return path if path and path != "/" else "/telegram/webhook"


async def run_live(settings: Settings, stop: asyncio.Event) -> None:
    assert settings.bot_token is not None
    clock = SystemClock()
    services = await Services.start(settings, clock)
    token = settings.bot_token.get_secret_value()
    # several processes on one token share Telegram's limits and one scheduler through Redis
    redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
    namespace = f"regulars:{token.split(':', 1)[0]}"
    shared = (
        SharedWindow(redis, namespace=namespace, per_second=settings.outbox_rate)
        if redis is not None
        else None
    )
    budget = RateBudget(settings.outbox_rate, shared=shared)
    bot = build_bot(token, settings.telegram_api_url, budget)
    worker = build_worker(bot, services, budget)
    dispatcher = build_dispatcher(services)
    scheduler = Scheduler(
        context=JobContext(
            session_factory=services.session_factory,
            clock=clock,
            policy=services.policy,
            timezone=services.store.timezone,
            i18n=services.i18n,
            owner_ids=settings.owner_ids,
            bot=bot,
        ),
        jobs=default_jobs(),
        leader=LeaderLease(redis, namespace=namespace) if redis is not None else None,
    )
    dispatcher["wake_job"] = scheduler.wake  # "Send now" plans at once
    try:
        me = await bot.get_me()  # the username goes into the POS API's claim links
    except BaseException:
        await bot.session.close()
        await services.close()
        if redis is not None:
            await redis.aclose()
        raise
    assert me.username is not None  # every bot has one
    mode = settings.mode
    app = web.Application()
    add_app_routes(app, services, mode, bot_username=me.username)
    if mode is RunMode.WEBHOOK:
        assert settings.webhook_url is not None
        secret = webhook_secret(settings.secret())
        SimpleRequestHandler(dispatcher, bot, secret_token=secret).register(
            app, path=webhook_path(settings.webhook_url)
        )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.http_host, settings.http_port)
    polling: asyncio.Task[None] | None = None
    try:
        await site.start()
        await present_bot(bot, services)
        polling = await _start_receiving(settings, bot, dispatcher, username=me.username)
        print(
            f"health check on http://{settings.http_host}:{settings.http_port}/healthz", flush=True
        )
        scheduler.start()
        worker.start()
        await _wait(stop, polling)
    finally:
        scheduler.shutdown()
        await worker.stop()
        if scheduler.leader is not None:
            with contextlib.suppress(Exception):  # Redis gone: the lease expires by itself
                await scheduler.leader.resign()
        if polling is not None:
            await _stop_polling(dispatcher, polling)
        await bot.session.close()
        await runner.cleanup()
        await services.close()
        if redis is not None:
            await redis.aclose()


async def _start_receiving(
    settings: Settings, bot: Bot, dispatcher: Dispatcher, *, username: str
) -> asyncio.Task[None] | None:
    """Tell Telegram where updates go: the webhook; or start long polling (its task)."""
    if settings.mode is RunMode.WEBHOOK:
        assert settings.webhook_url is not None
        await bot.set_webhook(
            settings.webhook_url,
            secret_token=webhook_secret(settings.secret()),
            allowed_updates=dispatcher.resolve_used_update_types(),
        )
        print(f"Regulars @{username}: webhook {settings.webhook_url}", flush=True)
        return None
    await bot.delete_webhook()
    polling = asyncio.create_task(
        dispatcher.start_polling(bot, handle_signals=False, close_bot_session=False)
    )
    print(f"Regulars @{username}: polling {settings.telegram_api_url}", flush=True)
    return polling


async def _stop_polling(dispatcher: Dispatcher, polling: asyncio.Task[None]) -> None:
    if not polling.done():
        try:
            await dispatcher.stop_polling()
        except RuntimeError:
            polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)


async def _wait(stop: asyncio.Event, polling: asyncio.Task[None] | None) -> None:
    waiter = asyncio.create_task(stop.wait())
    tasks: set[asyncio.Task[Any]] = {waiter}
    if polling is not None:
        tasks.add(polling)
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if polling is not None and polling.done() and polling.exception() is not None:
        raise polling.exception()  # type: ignore[misc]
