"""The /staff panel: invite by role, remove a member of the team."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class InviteRole(CallbackData, prefix="inv"):
    role: str


class RemoveStaff(CallbackData, prefix="rms"):
    id: int
