"""Keyboards and callback data of the wallet, coupon redemption and coupons on bills."""

from __future__ import annotations

import secrets

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from ui.keyboards.fields import Id, Id0, Key, Token


class WalletUse(CallbackData, prefix="wu"):
    coupon_id: Id


class WalletExchange(CallbackData, prefix="wx"):
    template: Key
    key: Token  # one-time: a double tap on the same button exchanges once


class BillCoupon(CallbackData, prefix="bc"):
    coupon_id: Id0  # 0: pay without a coupon


class CouponConfirm(CallbackData, prefix="rc"):
    token: Token


def rows(*buttons: InlineKeyboardButton) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[b] for b in buttons])


def use_button(label: str, coupon_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("Use: {coupon}").format(coupon=label)[:64],
        callback_data=WalletUse(coupon_id=coupon_id).pack(),
    )


def exchange_button(label: str, template: str, cost: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("{cost} points → {coupon}").format(cost=cost, coupon=label)[:64],
        callback_data=WalletExchange(template=template, key=secrets.token_urlsafe(9)).pack(),
    )


def bill_coupon_button(label: str, coupon_id: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=label[:64], callback_data=BillCoupon(coupon_id=coupon_id).pack()
    )


def no_coupon_button() -> InlineKeyboardButton:
    return InlineKeyboardButton(
        text=_("Pay without a coupon"), callback_data=BillCoupon(coupon_id=0).pack()
    )


def confirm_coupon_keyboard(token: str, amount_text: str) -> InlineKeyboardMarkup:
    return rows(
        InlineKeyboardButton(
            text=_("✅ Redeem, {amount} to pay").format(amount=amount_text)[:64],
            callback_data=CouponConfirm(token=token).pack(),
        )
    )
