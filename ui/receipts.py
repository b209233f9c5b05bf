"""What a diner is told after a payment: the receipt."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from loyalty.payments import PaymentOutcome, Refusal
from loyalty.policy import Policy
from ui.formatting import format_money


def receipt_text(outcome: PaymentOutcome, *, store_name: str, locale: str, policy: Policy) -> str:
    amount = format_money(outcome.amount, outcome.currency, locale)
    lines = [_("Payment received: {amount} at {store}.").format(amount=amount, store=store_name)]
    if outcome.coupon_discount:
        lines.append(
            _("Coupon applied: {discount} off.").format(
                discount=format_money(outcome.coupon_discount, outcome.currency, locale)
            )
        )
    if outcome.perk_discount:
        lines.append(
            _("Your standing perk: {discount} off.").format(
                discount=format_money(outcome.perk_discount, outcome.currency, locale)
            )
        )
    if outcome.duplicate:
        lines.append(_("(This payment was already recorded; nothing was added twice.)"))
    if outcome.refused is Refusal.DAILY_LIMIT:
        limit = policy.fraud.max_credited_payments_per_day
        lines.append(
            ngettext(
                "It earns no points or visit: the limit of {n} credited payment a day is "
                "reached. The restaurant has been told.",
                "It earns no points or visit: the limit of {n} credited payments a day is "
                "reached. The restaurant has been told.",
                limit,
            ).format(n=limit)
        )
        return "\n".join(lines)
    if outcome.refused is Refusal.SELF_CREDIT:
        lines.append(_("It earns no points or visit: staff cannot credit their own account."))
        return "\n".join(lines)
    if outcome.visit_counted:
        lines.append(_("Visit #{n} recorded.").format(n=outcome.visit_count))
    else:
        minutes = policy.fraud.min_minutes_between_visits
        lines.append(
            ngettext(
                "Same visit as your last payment (visits count at most once every {m} minute).",
                "Same visit as your last payment (visits count at most once every {m} minutes).",
                minutes,
            ).format(m=minutes)
        )
    lines.append(
        ngettext(
            "+{points} point · balance {balance}",
            "+{points} points · balance {balance}",
            outcome.points_awarded,
        ).format(points=outcome.points_awarded, balance=outcome.points_balance)
    )
    return "\n".join(lines)
