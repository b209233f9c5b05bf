"""Keyboards of the manager's console: the segment picker, a broadcast's preview, tag pickers.

Every button carries only keys and ids; the handler re-reads the database and re-checks the
presser's role, so a stale button does nothing it should not.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from pydantic import AfterValidator

from loyalty.audiences import DIMENSIONS, Choices, Segment
from loyalty.broadcasts import Broadcast
from loyalty.policy import Policy
from ui.keyboards.fields import Id, Key, KeyOrEmpty, UnixTime
from ui.locales import LANGUAGE_NAMES
from ui.texts import label_name, stage_name, taste_name
from ui.winback_texts import turn_name

CHECK = "✓ "


def _dimension(value: str) -> str:
    if value not in DIMENSIONS:
        raise ValueError("not a segment dimension")
    return value


class SegmentPick(CallbackData, prefix="bcs"):
    dim: Annotated[str, AfterValidator(_dimension)]  # one of loyalty.audiences.DIMENSIONS
    value: Key


class SegmentDone(CallbackData, prefix="bcn"):
    pass


class BroadcastAct(CallbackData, prefix="bca"):
    action: Literal["send", "later", "control", "cancel"]
    id: Id


class BroadcastVersion(CallbackData, prefix="bcv"):
    id: Id
    locale: Literal["en", "zh_Hans", "zh_Hant"]


class BroadcastAt(CallbackData, prefix="bct"):
    id: Id
    at: UnixTime


class TagPick(CallbackData, prefix="tag"):
    scope: Literal["dish", "me"]  # a new dish's tags, or a member's taste
    value: KeyOrEmpty  # empty: done


def _rows(
    buttons: Sequence[InlineKeyboardButton], per_row: int
) -> list[list[InlineKeyboardButton]]:
    return [list(buttons[i : i + per_row]) for i in range(0, len(buttons), per_row)]


def _toggle(label: str, chosen: bool, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=(CHECK if chosen else "") + label, callback_data=data.pack())


def segment_keyboard(
    segment: Segment, choices: Choices, policy: Policy, locale: str
) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    groups: list[tuple[str, list[tuple[str, str]]]] = [
        ("tiers", [(t, policy.tiers.display_name(t, locale)) for t in choices.tiers]),
        ("stages", [(s, stage_name(s)) for s in choices.stages]),
        ("turns", [(t, turn_name(t)) for t in choices.turns]),
        ("languages", [(lang, LANGUAGE_NAMES[lang]) for lang in choices.languages]),
        ("tags", [(t, taste_name(policy, t, locale)) for t in choices.tags]),
        ("labels", [(k, label_name(policy, k, locale)) for k in choices.labels]),
        ("stores", [(str(i), name) for i, name in choices.stores]),
    ]
    for dim, values in groups:
        chosen = [str(v) for v in getattr(segment, dim)]
        buttons = [
            _toggle(label, value in chosen, SegmentPick(dim=dim, value=value))
            for value, label in values
        ]
        rows += _rows(buttons, 3)
    rows.append(
        [
            InlineKeyboardButton(
                text=_("Next: write the message"), callback_data=SegmentDone().pack()
            )
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def preview_keyboard(broadcast: Broadcast, policy: Policy) -> InlineKeyboardMarkup:
    share = round(policy.campaigns.holdout_share * 100)
    control = (
        _("Control group: {share} in 100 (tap for none)").format(share=share)
        if broadcast.holdout_share > 0
        else _("No control group (tap to keep {share} in 100)").format(share=share)
    )
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=_("Send now"),
                    callback_data=BroadcastAct(action="send", id=broadcast.id).pack(),
                ),
                InlineKeyboardButton(
                    text=_("Schedule…"),
                    callback_data=BroadcastAct(action="later", id=broadcast.id).pack(),
                ),
            ],
            [
                InlineKeyboardButton(
                    text=(CHECK if locale in broadcast.versions else "+ ") + name,
                    callback_data=BroadcastVersion(id=broadcast.id, locale=locale).pack(),
                )
                for locale, name in LANGUAGE_NAMES.items()
            ],
            [
                InlineKeyboardButton(
                    text=control,
                    callback_data=BroadcastAct(action="control", id=broadcast.id).pack(),
                )
            ],
            [
                InlineKeyboardButton(
                    text=_("Discard"),
                    callback_data=BroadcastAct(action="cancel", id=broadcast.id).pack(),
                )
            ],
        ]
    )


def when_keyboard(
    broadcast_id: int, options: Sequence[tuple[str, datetime]]
) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=label,
                    callback_data=BroadcastAt(id=broadcast_id, at=int(at.timestamp())).pack(),
                )
            ]
            for label, at in options
        ]
    )


def cancel_keyboard(broadcast_id: int, label: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=label,
                    callback_data=BroadcastAct(action="cancel", id=broadcast_id).pack(),
                )
            ]
        ]
    )


def tags_keyboard(
    scope: str, chosen: Sequence[str], policy: Policy, locale: str, done: str
) -> InlineKeyboardMarkup:
    buttons = [
        _toggle(taste_name(policy, tag, locale), tag in chosen, TagPick(scope=scope, value=tag))
        for tag in policy.taste_tags
    ]
    rows = _rows(buttons, 3)
    rows.append(
        [InlineKeyboardButton(text=done, callback_data=TagPick(scope=scope, value="").pack())]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)
