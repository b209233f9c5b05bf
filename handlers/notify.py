"""Messages to the *other* person, sent after the work is committed: a cashier's payment or
coupon tells the diner, a manager's refund or gift tells the member, a removal tells the former
colleague. Telegram may refuse them — 403 when the person blocked the bot, 400 when it no longer
knows the chat (a deleted account) — and that is an outcome, not a failure: what was done is
done, and the staff member is told the truth ("Recorded. The diner could not be told: they
blocked the bot.") instead of an apology for an error that did not happen."""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from enum import StrEnum
from typing import Any

from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.utils.i18n import gettext as _

log = logging.getLogger(__name__)


class NotTold(StrEnum):
    BLOCKED = "blocked"  # 403: they blocked the bot (or never opened it)
    REFUSED = "refused"  # 400: Telegram did not take the message (chat not found, deactivated)


async def tell(send: Awaitable[Any], *, chat_id: int) -> NotTold | None:
    """Await `send` (one or more messages to `chat_id`); None when it went through, else why
    Telegram refused it. Other errors (network, our own bugs) are raised as before."""
    try:
        await send
    except TelegramForbiddenError as exc:
        log.info("could not tell %s: %s", chat_id, exc.message)
        return NotTold.BLOCKED
    except TelegramBadRequest as exc:
        log.warning("could not tell %s: %s", chat_id, exc.message)
        return NotTold.REFUSED
    return None


def diner_not_told(reason: NotTold) -> str:
    if reason is NotTold.BLOCKED:
        return _("The diner could not be told: they blocked the bot.")
    return _(
        "The diner could not be told: Telegram did not take the message (their account may be "
        "gone). It is recorded all the same."
    )


def member_not_told(reason: NotTold) -> str:
    if reason is NotTold.BLOCKED:
        return _("The member could not be told: they blocked the bot.")
    return _(
        "The member could not be told: Telegram did not take the message (their account may "
        "be gone). It is recorded all the same."
    )


def gift_not_told(reason: NotTold) -> str:
    if reason is NotTold.BLOCKED:
        return _(
            "The member could not be told: they blocked the bot; the coupon is in their /wallet "
            "all the same."
        )
    return _(
        "The member could not be told: Telegram did not take the message (their account may be "
        "gone); the coupon is in their /wallet all the same."
    )


def person_not_told(reason: NotTold) -> str:
    if reason is NotTold.BLOCKED:
        return _("They could not be told: they blocked the bot.")
    return _("They could not be told: Telegram did not take the message.")
