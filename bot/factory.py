"""Bot and Dispatcher factories: the one place that wires routers, middlewares and services."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiogram import Bot, Dispatcher, methods
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseEventIsolation, BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.fsm.storage.redis import RedisEventIsolation, RedisStorage
from aiogram.methods.base import Response, TelegramMethod

from bot.middlewares import (
    CommitBeforeSending,
    DatabaseMiddleware,
    LocaleMiddleware,
    MenuMiddleware,
    PersonMiddleware,
    RoleMiddleware,
)
from bot.services import Services
from handlers import get_routers
from scheduler.delivery import BudgetMiddleware, DeliveryWorker, RateBudget


def build_bot(token: str, api_url: str, budget: RateBudget | None = None) -> Bot:
    """The Bot; with `budget`, every message it sends takes a token from the shared budget."""
    keep_response_models()
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url))
    session.middleware(CommitBeforeSending())
    if budget is not None:
        session.middleware(BudgetMiddleware(budget))
    return Bot(token=token, session=session)


_response_models: list[type[Response[Any]]] = []


def keep_response_models() -> None:
    """Hold on to the models aiogram parses Bot API answers with, for the life of the process.

    aiogram parses every answer as ``Response[T]`` (T: what the method returns). Pydantic
    keeps such generic models only weakly, so once a garbage collection frees one, the next
    call builds it again: about 4 ms of CPU each time, which was ~9 % of the bot's CPU in
    bench.intake. Building all of them (about 40) once costs ~80 ms at start-up.
    """
    if _response_models:
        return
    returned = {
        method.__returning__
        for method in vars(methods).values()
        if isinstance(method, type)
        and issubclass(method, TelegramMethod)
        and method is not TelegramMethod
    }
    _response_models.extend(Response[kind] for kind in returned)  # type: ignore[valid-type]


def build_storage(redis_url: str | None) -> BaseStorage:
    """FSM state in Redis when several replicas share the work, in memory otherwise."""
    if redis_url:
        return RedisStorage.from_url(redis_url)
    return MemoryStorage()


def build_isolation(redis_url: str | None) -> BaseEventIsolation:
    """One update at a time per chat (across replicas with Redis): a double tap on a button is
    handled after the first tap, which has moved the conversation on (the second finds the
    button no longer active) instead of racing it."""
    if redis_url:
        return RedisEventIsolation.from_url(redis_url)
    return SimpleEventIsolation()


def build_dispatcher(services: Services, storage: BaseStorage | None = None) -> Dispatcher:
    settings = services.settings
    dp = Dispatcher(
        storage=storage or build_storage(settings.redis_url),
        events_isolation=build_isolation(settings.redis_url),
        settings=settings,
        owner_ids=settings.owner_ids,
        payment_token=settings.effective_payment_token(),
        clock=services.clock,
        store=services.store,
        session_factory=services.session_factory,
        policy=services.policy,
        signer=services.signer,
    )
    dp.update.outer_middleware(DatabaseMiddleware(services.session_factory, services.clock))
    dp.update.outer_middleware(PersonMiddleware(services.clock))
    dp.update.outer_middleware(LocaleMiddleware(services.i18n))
    dp.update.outer_middleware(RoleMiddleware(settings.owner_ids))
    dp.update.outer_middleware(MenuMiddleware())
    dp.include_routers(*get_routers())
    return dp


def build_worker(bot: Bot, services: Services, budget: RateBudget) -> DeliveryWorker:
    """The outbox's delivery worker, as the settings ask (rate, paid broadcasts, lease)."""
    settings = services.settings
    return DeliveryWorker(
        bot=bot,
        session_factory=services.session_factory,
        clock=services.clock,
        budget=budget,
        paid_broadcast=settings.paid_broadcast,
        lease=timedelta(seconds=settings.outbox_lease_seconds),
        batch=max(50, settings.outbox_rate // 2),  # half a second of sending per claim
    )
