"""Texts of the turning points (seed 004) and of the unmoved, in the current locale: the early
care message when a member turns cooling, the thank-you when they turn rising, and the names of
the turns for /broadcast segments and /stats."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _


def cooling_text(*, name: str, store: str) -> str:
    """A care message, never an offer: the member's gaps were shortening and this one runs long."""
    return _(
        "{name}, it has been a little longer than usual since your last visit to {store} — we "
        "hope all is well. We would love to see you again soon."
    ).format(name=name, store=store)


def rising_text(*, name: str, store: str, next_tier: str | None) -> str:
    """A thank-you to a member whose visits come closer together, naming their next tier."""
    if next_tier is None:
        return _(
            "Thank you for coming so often, {name}! Guests like you are the heart of {store}."
        ).format(name=name, store=store)
    return _(
        "Thank you for coming so often, {name}! At this pace you will soon be {tier} at "
        "{store} — /card shows how close you are."
    ).format(name=name, store=store, tier=next_tier)


def turn_name(turn: str) -> str:
    """A turning point (loyalty.lifecycle.Turn) in the reader's language."""
    names = {
        "rising": _("Coming more often"),
        "cooling": _("Coming less often"),
    }
    return names.get(turn, turn)


def care_only_line(count: str) -> str:
    """The /stats line of members who get care messages only (they answer no offer)."""
    return _("Care only (no offer answered lately): {count}").format(count=count)
