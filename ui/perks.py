"""The texts of standing perks: what a tier gets at every visit, as the cashier and the diner
read it."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from loyalty.policy import Perk
from ui.formatting import format_money


def perk_text(perk: Perk, currency: str, locale: str) -> str:
    """ "10% off every bill, up to $50.00" or "a drink of your choice at every visit"."""
    if perk.kind == "item":
        assert perk.item is not None
        text = _("{item} at every visit").format(item=perk.item.get(locale))
    else:
        percent = f"{perk.value.normalize():f}%"
        if perk.cap is not None:
            text = _("{percent} off every bill, up to {cap}").format(
                percent=percent, cap=format_money(perk.cap, currency, locale)
            )
        else:
            text = _("{percent} off every bill").format(percent=percent)
    if perk.min_spend:
        text += " " + _("(from {amount})").format(
            amount=format_money(perk.min_spend, currency, locale)
        )
    return text


def cashier_perk_line(perk: Perk, currency: str, locale: str) -> str:
    return _("Standing perk: {perk}. Give it with this bill.").format(
        perk=perk_text(perk, currency, locale)
    )
