"""The /staff panel: invite by role, remove a member of the team."""

from __future__ import annotations

from typing import Literal

from aiogram.filters.callback_data import CallbackData

from ui.keyboards.fields import Id


class InviteRole(CallbackData, prefix="inv"):
    role: Literal["cashier", "manager"]


class RemoveStaff(CallbackData, prefix="rms"):
    id: Id
