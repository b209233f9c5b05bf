"""Update middlewares, outermost first: database unit of work with de-duplication, the person,
their locale, their role, and a newcomer's own command menu. Each is an outer middleware on
`dp.update` so every kind of update (message, button, payment, membership change) gets the same
treatment."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection
from contextvars import ContextVar
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject, Update, User
from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty import housekeeping, roles, telegram_users
from loyalty.clock import Clock
from models.tables import Role
from ui.commands import needs_own_menu, set_chat_menu
from ui.locales import resolve_locale

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]
log = logging.getLogger(__name__)


class DatabaseMiddleware(BaseMiddleware):
    """One session per update, one unit of work; a redelivered update is dropped here.

    The update id is recorded in the same transaction as the handler's domain writes, so either
    both land or neither does: a crash mid-update leaves the update unclaimed and its redelivery
    is handled in full, a completed update redelivered has no second effect.

    That transaction commits before the handler's first call to Telegram (`CommitBeforeSending`)
    so a database lock is never held across a network round trip: on SQLite a write lock held
    while waiting for Telegram would serialise every diner behind it. A write the handler makes
    after talking to Telegram opens a second transaction, committed when the handler returns.
    """

    def __init__(self, session_factory: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self.session_factory = session_factory
        self.clock = clock

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        bot_id = data["bot"].id
        async with self.session_factory() as session:
            try:
                fresh = await housekeeping.claim_update(
                    session, bot_id=bot_id, update_id=event.update_id, now=self.clock.now()
                )
                if not fresh:
                    log.info("update %s already handled; redelivery ignored", event.update_id)
                    data["duplicate_update"] = True
                    await session.rollback()
                    return None
                data["session"] = session
                token = _unit_of_work.set(session)
                try:
                    result = await handler(event, data)
                finally:
                    _unit_of_work.reset(token)
                await session.commit()
                return result
            except BaseException:
                await session.rollback()
                raise


_unit_of_work: ContextVar[AsyncSession | None] = ContextVar("unit_of_work", default=None)


class CommitBeforeSending(BaseRequestMiddleware):
    """A Bot API request middleware: commit the update's open transaction before the request.

    What the bot tells a person is then always what the database holds, and no lock waits on
    Telegram. Outside an update (scheduler jobs, start-up) there is nothing to commit.
    """

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        session = _unit_of_work.get()
        if session is not None and session.in_transaction():
            await session.commit()
        return await make_request(bot, method)


class PersonMiddleware(BaseMiddleware):
    """Note who is talking (Telegram user id and language only) as `data["person"]`."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is not None and not user.is_bot:
            data["person"] = await telegram_users.touch(
                data["session"],
                telegram_id=user.id,
                language_code=user.language_code,
                now=self.clock.now(),
            )
        return await handler(event, data)


class LocaleMiddleware(BaseMiddleware):
    """The person's chosen locale, else their Telegram language, else the default."""

    def __init__(self, i18n: I18n) -> None:
        self.i18n = i18n

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        locale = resolve_locale(data, self.i18n.default_locale)
        data["locale"] = locale
        data["i18n"] = self.i18n
        with self.i18n.context(), self.i18n.use_locale(locale):
            return await handler(event, data)


class RoleMiddleware(BaseMiddleware):
    """`data["role"]`: owner (OWNER_IDS), manager or cashier (staff table), else diner.

    The staff role came with the person (one statement); only updates without a person (from
    bots) look it up here."""

    def __init__(self, owner_ids: Collection[int]) -> None:
        self.owner_ids = frozenset(owner_ids)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        user: User | None = data.get("event_from_user")
        if user is not None:
            person: telegram_users.Person | None = data.get("person")
            if person is not None and person.telegram_id == user.id:
                data["role"] = roles.role_for(
                    user.id, staff_role=person.staff_role, owner_ids=self.owner_ids
                )
            else:
                data["role"] = await roles.role_of(
                    data["session"], telegram_id=user.id, owner_ids=self.owner_ids
                )
        return await handler(event, data)


class MenuMiddleware(BaseMiddleware):
    """Someone new whose menu the per-language menus cannot give (Traditional Chinese: Telegram
    keys menus by two-letter codes, and "zh" is Simplified; or staff granted before they first
    wrote) gets a menu on their own chat, once, before the first reply reaches them."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        person: telegram_users.Person | None = data.get("person")
        if person is not None and person.is_new:
            role: Role = data.get("role", Role.DINER)
            if needs_own_menu(role, data["locale"], person.language_code):
                holder = roles.RoleHolder(
                    person.telegram_id, role, person.locale, person.language_code
                )
                await set_chat_menu(data["bot"], data["i18n"], holder)
        return await handler(event, data)
