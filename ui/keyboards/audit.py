"""The owner's /audit pages."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class AuditNav(CallbackData, prefix="aud"):
    older_than: int = 0
    newer_than: int = 0
