"""The /campaigns pages."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData

from ui.keyboards.fields import Id0


class CampaignsPage(CallbackData, prefix="cmp"):
    offset: Id0
