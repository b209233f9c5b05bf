"""The privacy notice and the consent question asked at enrolment, in the current locale."""

from __future__ import annotations

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from loyalty.policy import Policy
from ui.keyboards.profile import consent_keyboard


def privacy_notice() -> str:
    return _(
        "Your privacy: we keep your first name, your visits, payments and points, and your "
        "birthday if you give it — never your phone number. Cashiers see your name and tier, "
        "nothing more. /mydata shows everything we keep; /forget erases it."
    )


def offers_limits(policy: Policy) -> str:
    per_week = policy.caps.max_marketing_per_week
    return ngettext(
        "At most {n} message a week, never at night.",
        "At most {n} messages a week, never at night.",
        per_week,
    ).format(n=per_week)


def consent_prompt(policy: Policy) -> tuple[str, InlineKeyboardMarkup]:
    """The privacy notice and the one-time question about offers, sent right after the first
    welcome (opt-in: yes / no; opt-out: offers are on, one button turns them off)."""
    if policy.consent.mode == "opt-out":
        question = _(
            "We send members offers and news from time to time. {limits} Don't want them? Tap "
            "below, or send /stop at any time."
        ).format(limits=offers_limits(policy))
    else:
        question = _("May we send you offers and news? {limits}").format(
            limits=offers_limits(policy)
        )
    text = f"{privacy_notice()}\n\n{question}"
    return text, consent_keyboard(opt_out=policy.consent.mode == "opt-out")


def consent_confirmation(marketing: bool) -> str:
    if marketing:
        return _("Offers are on. Send /stop any time to turn them off.")
    return _("No offers. You will still get your receipts. You can turn offers on in /profile.")
