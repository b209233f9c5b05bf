"""The /campaigns pages."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class CampaignsPage(CallbackData, prefix="cmp"):
    offset: int
