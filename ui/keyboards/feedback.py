"""Callback data and keyboards of feedback: the stars of the post-visit question (sent by the
scheduler through the outbox), the suggestion button after a good rating, and the inbox's
"Mark handled"."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from loyalty.outbox import keyboard_json
from ui.keyboards.fields import Id, Stars


class RateVisit(CallbackData, prefix="fb"):
    visit_id: Id
    stars: Stars


class SuggestAbout(CallbackData, prefix="fbs"):
    visit_id: Id


class MarkHandled(CallbackData, prefix="fbh"):
    feedback_id: Id


class AdoptSuggestion(CallbackData, prefix="fba"):
    feedback_id: Id


def stars(rating: int) -> str:
    """★★★☆☆ for 3."""
    return "★" * rating + "☆" * (5 - rating)


def stars_keyboard_json(visit_id: int) -> str:
    """One row of five buttons, 1★ … 5★, as the outbox stores a keyboard."""
    return keyboard_json(
        [[(f"{n}★", RateVisit(visit_id=visit_id, stars=n).pack()) for n in range(1, 6)]]
    )


def suggestion_keyboard(visit_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("Leave a suggestion"),
                    callback_data=SuggestAbout(visit_id=visit_id).pack(),
                )
            ]
        ]
    )


def handled_keyboard(feedback_id: int, *, suggestion: bool = False) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(
                text=_("✓ Mark handled"),
                callback_data=MarkHandled(feedback_id=feedback_id).pack(),
            )
        ]
    ]
    if suggestion:  # adopted: the member is thanked (and rewarded), and it counts to their tier
        rows.append(
            [
                InlineKeyboardButton(
                    text=_("★ Adopt: thank them"),
                    callback_data=AdoptSuggestion(feedback_id=feedback_id).pack(),
                )
            ]
        )
    return InlineKeyboardMarkup(inline_keyboard=rows)
