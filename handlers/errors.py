"""Error router: domain errors become a message in the person's language; anything else is
logged and the person gets an apology. The update's transaction has already been rolled back."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import I18n

from loyalty.errors import DomainError
from ui.errors import error_text
from ui.locales import resolve_locale

log = logging.getLogger(__name__)


async def _tell(event: ErrorEvent, bot: Bot, data: dict[str, Any]) -> None:
    i18n: I18n | None = data.get("i18n")
    user = data.get("event_from_user")
    if i18n is None or user is None:
        return
    with i18n.context(), i18n.use_locale(resolve_locale(data, i18n.default_locale)):
        text = error_text(event.exception)
        query = event.update.callback_query
        if query is not None:
            await bot.answer_callback_query(query.id, text=text, show_alert=True)
        else:
            await bot.send_message(chat_id=user.id, text=text)


async def domain_error(event: ErrorEvent, bot: Bot, **data: Any) -> bool:
    log.info("update %s refused: %s", event.update.update_id, event.exception)
    await _tell(event, bot, data)
    return True


async def unexpected_error(event: ErrorEvent, bot: Bot, **data: Any) -> bool:
    log.exception("update %s failed", event.update.update_id, exc_info=event.exception)
    try:
        await _tell(event, bot, data)
    except Exception:  # the apology itself must never crash the dispatcher
        log.exception("could not tell the person about the failure")
    return True


def build_router() -> Router:
    router = Router(name="errors")
    router.errors.register(domain_error, ExceptionTypeFilter(DomainError))
    router.errors.register(unexpected_error)
    return router
