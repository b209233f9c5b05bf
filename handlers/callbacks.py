"""The one parse layer for buttons: a press whose data no CallbackData of ours accepts is refused
here, before any journey's router sees it.

Telegram returns whatever data a client sends with a callback query, so data is input like a
typed message. Every CallbackData is made of bounded, validated fields (ui/keyboards/fields.py);
data with an unknown prefix, the wrong number of parts or a field out of bounds ("inv:xyz",
"wu:99999999999999999999", "bct:6:-99999999999") gets "This button is no longer valid." in the
person's language, one WARNING line in the log, and writes nothing. Data that parses goes on to
the journeys' routers, which check what it names (the visit is theirs, the broadcast is a draft
in a store they manage, ...) as before.
"""

from __future__ import annotations

import logging
from typing import Any

from aiogram import Router
from aiogram.filters import Filter
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import gettext as _
from pydantic import ValidationError

from ui.keyboards.registry import BY_PREFIX

log = logging.getLogger(__name__)

_SHOWN = 80
"""How much of the data the log line quotes (Telegram allows 64 bytes; a forged update more)."""


def why_malformed(data: str | None) -> str | None:
    """Why `data` is not a button of ours; None when one of our CallbackData accepts it."""
    if not data:
        return "no data"
    prefix = data.split(":", 1)[0]
    kind = BY_PREFIX.get(prefix)
    if kind is None:
        return "unknown prefix"
    try:
        kind.unpack(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        return f"{kind.__name__}.{where}: {error['msg']}"[:200]
    except (TypeError, ValueError) as exc:
        return f"{kind.__name__}: {exc}"[:200]
    return None


class Malformed(Filter):
    """Matches a press whose data is malformed; hands the reason to the handler."""

    async def __call__(self, query: CallbackQuery) -> bool | dict[str, Any]:
        reason = why_malformed(query.data)
        return False if reason is None else {"reason": reason}


async def refuse(query: CallbackQuery, reason: str) -> None:
    log.warning(
        "button refused from %s: %s (data %r)",
        query.from_user.id,
        reason,
        (query.data or "")[:_SHOWN],
    )
    await query.answer(_("This button is no longer valid."))


def build_router() -> Router:
    router = Router(name="callbacks")
    router.callback_query.register(refuse, Malformed())
    return router
