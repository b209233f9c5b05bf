"""The owner's /audit pages."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData

from ui.keyboards.fields import Id0


class AuditNav(CallbackData, prefix="aud"):
    older_than: Id0 = 0
    newer_than: Id0 = 0
