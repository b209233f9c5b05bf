"""The text of /wallet: points, coupons held, and the coupons points can buy."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from loyalty import coupons
from loyalty.policy import Policy
from loyalty.stores import StoreInfo
from ui.reminder_texts import multiplier_lines
from ui.texts import coupon_text, coupon_until


def offer_label(key: str, policy: Policy, store: StoreInfo, locale: str) -> str:
    preview = coupons.preview(key, policy.coupons.templates[key], currency=store.currency)
    return coupon_text(preview, policy, locale)


def wallet_text(held: coupons.Wallet, policy: Policy, store: StoreInfo, locale: str) -> str:
    lines = [
        _("Your wallet at {store}").format(store=store.name),
        ngettext("Points: {n}", "Points: {n}", held.points).format(n=held.points),
        *multiplier_lines(policy, locale),
        "",
    ]
    if held.coupons:
        lines.append(_("Your coupons (one per bill; tap Use at the counter):"))
        lines += [
            f"• {coupon_text(c, policy, locale)} — "
            f"{coupon_until(c, timezone=store.timezone, locale=locale)}"
            for c in held.coupons
        ]
    else:
        lines.append(_("No coupons right now."))
    for offer in held.offers:
        if not offer.affordable:
            label = offer_label(offer.template, policy, store, locale)
            lines.append(
                _("{cost} points buy {coupon} (you have {points}).").format(
                    cost=offer.cost, coupon=label, points=held.points
                )
            )
    return "\n".join(lines)
