"""Inline keyboards and their callback data. Labels go through gettext like every other text."""

from __future__ import annotations

from typing import Literal

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from ui.locales import LANGUAGE_NAMES, SUPPORTED_LOCALES


class LanguageChoice(CallbackData, prefix="lang"):
    locale: Literal["en", "zh_Hans", "zh_Hant"]


class Menu(CallbackData, prefix="menu"):
    item: Literal["how", "language"]


def language_keyboard(current: str | None) -> InlineKeyboardMarkup:
    rows = []
    for locale in SUPPORTED_LOCALES:
        mark = "✓ " if locale == current else ""
        rows.append(
            [
                InlineKeyboardButton(
                    text=f"{mark}{LANGUAGE_NAMES[locale]}",
                    callback_data=LanguageChoice(locale=locale).pack(),
                )
            ]
        )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def welcome_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=_("How it works"), callback_data=Menu(item="how").pack()),
                InlineKeyboardButton(
                    text=_("Language"), callback_data=Menu(item="language").pack()
                ),
            ]
        ]
    )
