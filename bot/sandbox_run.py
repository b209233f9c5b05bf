"""Sandbox mode: the Bot API emulator, the web chat, the bot and the scheduler in one process."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiogram import Bot, Dispatcher
from aiohttp import web

from bot.config import RunMode, Settings, ensure_sandbox_secret
from bot.exposure import sandbox_bind_host, url_host
from bot.factory import build_bot, build_dispatcher, build_worker
from bot.http import add_app_routes
from bot.sandbox_codes import register_printed_codes
from bot.services import Services
from bot.telegram_profile import present_bot
from loyalty import roles
from loyalty.clock import MovableClock
from models import queries
from models.tables import Role
from sandbox.emulator import BotAPIEmulator
from sandbox.webchat import add_webchat_routes
from scheduler import JobContext, Scheduler, default_jobs
from scheduler.delivery import DeliveryWorker, RateBudget
from ui.images import SANDBOX_BOT_USERNAME

log = logging.getLogger(__name__)

SANDBOX_OWNER_ID = 1_000_001
SANDBOX_CASHIER_ID = 1_000_002
SANDBOX_TABLES = list(range(1, 13))


@dataclass(frozen=True, slots=True)
class CastMember:
    id: int
    first_name: str
    language_code: str
    label: str


def sandbox_cast(owner_id: int) -> list[CastMember]:
    """Everyone a person can play in the web chat, ready at start."""
    return [
        CastMember(owner_id, "Olivia", "en", "Owner"),
        CastMember(SANDBOX_CASHIER_ID, "Carlos", "en", "Cashier"),
        CastMember(1_000_101, "Dana", "en", "Diner"),
        CastMember(1_000_102, "李娜", "zh-hans", "Diner"),
        CastMember(1_000_103, "陳明", "zh-hant", "Diner"),
    ]


@dataclass(slots=True)
class SandboxRun:
    url: str
    emulator: BotAPIEmulator
    services: Services
    bot: Bot
    dispatcher: Dispatcher
    scheduler: Scheduler
    worker: DeliveryWorker


def _random_token() -> str:
    # A fresh bot id per run: update ids restart with every emulator, so they must not collide
    # with ids remembered (for de-duplication) from an earlier run on the same database.
    bot_id = secrets.randbelow(9_000_000_000) + 1_000_000_000
    return f"{bot_id}:{secrets.token_urlsafe(26)[:35]}"


@asynccontextmanager
async def sandbox(settings: Settings, *, port: int | None = None) -> AsyncIterator[SandboxRun]:
    """Start everything; yield once the bot is polling; stop everything on exit."""
    settings = ensure_sandbox_secret(settings)
    clock = MovableClock()
    owner_id = settings.owner_ids[0] if settings.owner_ids else SANDBOX_OWNER_ID
    if not settings.owner_ids:
        settings = settings.model_copy(update={"owner_ids": (owner_id,)})
    services = await Services.start(settings, clock)
    scheduler = Scheduler(
        context=JobContext(
            session_factory=services.session_factory,
            clock=clock,
            policy=services.policy,
            timezone=services.store.timezone,
            i18n=services.i18n,
            owner_ids=settings.owner_ids,
        ),
        jobs=default_jobs(),
    )

    async def advance(seconds: float) -> dict[str, Any]:
        now = clock.advance(timedelta(seconds=seconds))
        ran = await scheduler.run_due()
        delivered = await worker.run_until_idle() if worker is not None else 0
        return {"now": now.isoformat(), "jobs": ran, "delivered": delivered}

    worker: DeliveryWorker | None = None
    budget = RateBudget(settings.outbox_rate)

    emulator = BotAPIEmulator(
        token=_random_token(),
        username=SANDBOX_BOT_USERNAME,
        first_name=settings.store_name[:64],
        clock=clock.timestamp,
        on_clock_advance=advance,
        on_codes_refresh=lambda: register_printed_codes(emulator, services),
    )
    web_app = web.Application(client_max_size=60 * 1024 * 1024)  # Telegram takes 50 MB uploads
    emulator.add_routes(web_app)
    add_webchat_routes(web_app)
    add_app_routes(web_app, services, RunMode.SANDBOX, bot_username=SANDBOX_BOT_USERNAME)
    runner = web.AppRunner(web_app, access_log=None)
    await runner.setup()
    bind_port = settings.sandbox_port if port is None else port
    host = sandbox_bind_host(settings)  # loopback unless SANDBOX_PUBLIC=true
    site = web.TCPSite(runner, host, bind_port)
    polling: asyncio.Task[None] | None = None
    bot: Bot | None = None
    try:
        await site.start()
        actual_port = runner.addresses[0][1]
        url = f"http://{url_host(host)}:{actual_port}"
        bot = build_bot(emulator.token, url, budget)
        scheduler.context.bot = bot
        worker = build_worker(bot, services, budget)
        dispatcher = build_dispatcher(services)
        dispatcher["wake_job"] = scheduler.wake  # "Send now" plans at once
        await _seed_cast(services, emulator, owner_id)
        await register_printed_codes(emulator, services)
        await present_bot(bot, services)
        polling = asyncio.create_task(
            dispatcher.start_polling(bot, handle_signals=False, close_bot_session=False)
        )
        scheduler.start()
        worker.start()
        yield SandboxRun(url, emulator, services, bot, dispatcher, scheduler, worker)
    finally:
        scheduler.shutdown()
        if worker is not None:
            await worker.stop()
        if polling is not None:
            if not polling.done():
                await dispatcher.stop_polling()
            await asyncio.gather(polling, return_exceptions=True)
        if bot is not None:
            await bot.session.close()
        await emulator.close()
        await runner.cleanup()
        await services.close()


async def _seed_cast(services: Services, emulator: BotAPIEmulator, owner_id: int) -> None:
    for person in sandbox_cast(owner_id):
        emulator.add_user(
            id=person.id,
            first_name=person.first_name,
            language_code=person.language_code,
            label=person.label,
        )
    async with services.session_factory() as session, session.begin():
        await queries.ensure_tables(
            session, store_id=services.store.id, numbers=SANDBOX_TABLES, now=services.clock.now()
        )
        await roles.grant(
            session,
            telegram_id=SANDBOX_CASHIER_ID,
            store_id=services.store.id,
            role=Role.CASHIER,
            display_name="Carlos",
            granted_by=owner_id,
            now=services.clock.now(),
        )
