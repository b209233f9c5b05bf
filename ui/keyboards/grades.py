"""The buttons of a manager's `/member` page: grade by hand, back to the figures, labels.

Each carries only the member id and a key; the handler re-checks the presser's role and the
policy (a stale button naming a tier or label the policy no longer has does nothing)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from loyalty.grades import MemberPage
from loyalty.policy import Policy
from ui.keyboards.fields import Id, Key, KeyOrEmpty
from ui.texts import label_name

CHECK = "✓ "


class GradeSet(CallbackData, prefix="grd"):
    member_id: Id
    tier: KeyOrEmpty  # empty: back to the grade the figures give


class LabelToggle(CallbackData, prefix="lbl"):
    member_id: Id
    label: Key


def member_keyboard(page: MemberPage, policy: Policy, locale: str) -> InlineKeyboardMarkup:
    grade = page.grade
    tiers = [
        InlineKeyboardButton(
            text=(CHECK if grade.manual and grade.tier == key else "")
            + policy.tiers.display_name(key, locale),
            callback_data=GradeSet(member_id=page.member_id, tier=key).pack(),
        )
        for key in reversed(policy.tiers.keys)
    ]
    rows = [tiers[i : i + 4] for i in range(0, len(tiers), 4)]
    if grade.manual:
        rows.append(
            [
                InlineKeyboardButton(
                    text=_("Back to the grade of their figures"),
                    callback_data=GradeSet(member_id=page.member_id, tier="").pack(),
                )
            ]
        )
    labels = [
        InlineKeyboardButton(
            text=(CHECK if key in grade.labels else "") + label_name(policy, key, locale),
            callback_data=LabelToggle(member_id=page.member_id, label=key).pack(),
        )
        for key in policy.labels
    ]
    rows += [labels[i : i + 3] for i in range(0, len(labels), 3)]
    return InlineKeyboardMarkup(inline_keyboard=rows)
