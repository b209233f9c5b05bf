"""Bot and Dispatcher factories: the one place that wires routers, middlewares and services."""

from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage

from bot.middlewares import (
    CommitBeforeSending,
    DatabaseMiddleware,
    LocaleMiddleware,
    PersonMiddleware,
    RoleMiddleware,
)
from bot.services import Services
from handlers import get_routers
from scheduler.delivery import BudgetMiddleware, RateBudget


def build_bot(token: str, api_url: str, budget: RateBudget | None = None) -> Bot:
    """The Bot; with `budget`, every message it sends takes a token from the shared budget."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url))
    session.middleware(CommitBeforeSending())
    if budget is not None:
        session.middleware(BudgetMiddleware(budget))
    return Bot(token=token, session=session)


def build_storage(redis_url: str | None) -> BaseStorage:
    """FSM state in Redis when several replicas share the work, in memory otherwise."""
    if redis_url:
        return RedisStorage.from_url(redis_url)
    return MemoryStorage()


def build_dispatcher(services: Services, storage: BaseStorage | None = None) -> Dispatcher:
    settings = services.settings
    dp = Dispatcher(
        storage=storage or build_storage(settings.redis_url),
        settings=settings,
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
    dp.include_routers(*get_routers())
    return dp
