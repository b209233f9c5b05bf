"""The owner's /audit pages: older and newer."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from loyalty import audit
from ui.keyboards.fields import Id0


class AuditNav(CallbackData, prefix="aud"):
    older_than: Id0 = 0
    newer_than: Id0 = 0


def audit_keyboard(found: audit.AuditPage) -> InlineKeyboardMarkup | None:
    buttons = []
    if found.has_older and found.oldest_id is not None:
        buttons.append(
            InlineKeyboardButton(
                text=_("◀ Older"), callback_data=AuditNav(older_than=found.oldest_id).pack()
            )
        )
    if found.has_newer and found.newest_id is not None:
        buttons.append(
            InlineKeyboardButton(
                text=_("Newer ▶"), callback_data=AuditNav(newer_than=found.newest_id).pack()
            )
        )
    return InlineKeyboardMarkup(inline_keyboard=[buttons]) if buttons else None
