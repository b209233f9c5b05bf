"""The texts of paying: the amount asked for, what is wrong with one typed, a coupon offered for
the bill, a bill that cannot be paid; and a coupon as the cashier sees it when scanned."""

from __future__ import annotations

from decimal import Decimal

from aiogram.utils.i18n import gettext as _

from loyalty import coupons
from loyalty.bills import BillProblem, BillProblemKind
from loyalty.money import AmountReason, InvalidAmount, currency_precision
from loyalty.policy import Policy
from loyalty.stores import StoreInfo
from ui.formatting import format_money
from ui.texts import coupon_text, coupon_until


def amount_prompt(currency: str, locale: str) -> str:
    example = Decimal("86.50") if currency_precision(currency) > 0 else Decimal(860)
    return _("How much is your bill? Send the amount, for example {example}.").format(
        example=format_money(example, currency, locale)
    )


def amount_problem_text(exc: InvalidAmount, currency: str, maximum: str) -> str:
    if exc.reason is AmountReason.TOO_PRECISE:
        places = currency_precision(currency)
        if places == 0:
            return _("{currency} has no cents: please send a whole amount.").format(
                currency=currency
            )
        return _("Please use at most {places} decimal places.").format(places=places)
    if exc.reason is AmountReason.TOO_LARGE:
        return _("That is more than {maximum}, the most that can be paid here.").format(
            maximum=maximum
        )
    if exc.reason is AmountReason.NOT_POSITIVE:
        return _("The amount must be more than zero.")
    return _("Please send just the amount in numbers, for example 86.50.")


def coupon_choice_text(
    coupon: coupons.CouponView, amount: Decimal, policy: Policy, locale: str
) -> str:
    """The coupon, and what it takes off this bill when that is not plain from its text."""
    label = coupon_text(coupon, policy, locale)
    if coupon.kind == "amount":
        return label
    discount = format_money(coupon.discount(amount), coupon.currency, locale)
    return _("{coupon}: −{discount}").format(coupon=label, discount=discount)


def bill_problem_text(problem: BillProblem) -> str:
    if problem.kind is BillProblemKind.EXPIRED:
        return _("This bill has expired. Please tap Pay again.")
    if problem.kind is BillProblemKind.PAID:
        return _("This bill is already paid.")
    return _("This bill is not valid. Please tap Pay again.")


def coupon_seen_text(seen: coupons.AtCounter, policy: Policy, store: StoreInfo, locale: str) -> str:
    return _(
        "Coupon: {coupon} ({until})\nFor: {name} · {tier}\n"
        "Send the bill amount before the discount."
    ).format(
        coupon=coupon_text(seen.coupon, policy, locale),
        until=coupon_until(seen.coupon, timezone=store.timezone, locale=locale),
        name=seen.member_name or "—",
        tier=policy.tiers.display_name(seen.member_tier, locale),
    )
