"""Keyboards and callback data of the payment journeys."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from ui.keyboards.fields import Id, Token


class PayStart(CallbackData, prefix="pay"):
    store_id: Id


class CashierConfirm(CallbackData, prefix="cc"):
    token: Token


class CashierCancel(CallbackData, prefix="cx"):
    token: Token


def pay_keyboard(store_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("💳 Pay the bill"), callback_data=PayStart(store_id=store_id).pack()
                )
            ]
        ]
    )


def cashier_confirm_keyboard(token: str, amount_text: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("✅ Record {amount}").format(amount=amount_text),
                    callback_data=CashierConfirm(token=token).pack(),
                ),
                InlineKeyboardButton(
                    text=_("Cancel"), callback_data=CashierCancel(token=token).pack()
                ),
            ]
        ]
    )
