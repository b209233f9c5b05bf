"""Error router: domain errors become a message in the person's language; anything else is
logged and the person gets an apology. The update's transaction has already been rolled back."""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Bot, Router
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from loyalty.bills import BillProblem
from loyalty.errors import DomainError, NotAllowed, UnsupportedLocale
from loyalty.payments import ReceiptProblem, RefundProblem
from loyalty.staff import InviteProblem, StaffGone
from loyalty.visits import UnknownTable
from ui.locales import resolve_locale

log = logging.getLogger(__name__)


def _message_for(exc: Exception) -> str:
    if isinstance(exc, UnsupportedLocale):
        return _("That language is not available.")
    if isinstance(exc, NotAllowed):
        return _("Sorry, this is only for the restaurant's staff.")
    if isinstance(exc, UnknownTable):
        return _(
            "This code is not valid. Please scan the QR code on your table again, "
            "or ask the staff for help."
        )
    if isinstance(exc, ReceiptProblem):
        if exc.reason == "used":
            return _("This receipt has already been claimed.")
        if exc.reason == "expired":
            return _("This receipt QR code has expired. Please ask the cashier for a new one.")
        return _("This receipt is not valid. Please ask the cashier.")
    if isinstance(exc, InviteProblem):
        if exc.reason == "used":
            return _("This invitation has already been used.")
        if exc.reason == "expired":
            return _("This invitation has expired. Please ask for a new one.")
        return _("This invitation is not valid.")
    if isinstance(exc, StaffGone):
        return _("This person is no longer on the staff.")
    if isinstance(exc, RefundProblem):
        if exc.reason == "already":
            return _("This payment was already refunded.")
        if exc.reason == "unclaimed":
            return _("This receipt was never claimed: there is nothing to reverse.")
        return _("There is no payment with that number.")
    if isinstance(exc, BillProblem):
        return _("This bill is not valid. Please tap Pay again.")
    return _("Sorry, something went wrong on our side. Please try again in a moment.")


async def _tell(event: ErrorEvent, bot: Bot, data: dict[str, Any]) -> None:
    i18n: I18n | None = data.get("i18n")
    user = data.get("event_from_user")
    if i18n is None or user is None:
        return
    with i18n.context(), i18n.use_locale(resolve_locale(data, i18n.default_locale)):
        text = _message_for(event.exception)
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
