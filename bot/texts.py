"""Texts shared by several handlers (and later by the scheduler), rendered in the current locale."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from loyalty.policy import Policy, Treatment
from models.tables import Role


def role_name(role: Role) -> str:
    names = {
        Role.DINER: _("diner"),
        Role.CASHIER: _("cashier"),
        Role.MANAGER: _("manager"),
        Role.OWNER: _("owner"),
    }
    return names[role]


def role_line(role: Role, store: str) -> str:
    if role is Role.DINER:
        return ""
    return _("You are signed in as {role} of {store}.").format(role=role_name(role), store=store)


def help_text(role: Role, store: str) -> str:
    lines = [
        _("Here is what I can do:"),
        "",
        _("/start — welcome and check-in"),
        _("/language — choose English, 简体中文 or 繁體中文"),
        _("/help — this list"),
        "",
        _("For members:"),
        _("/card — your member card, tier and points"),
        _("/profile — birthday, language and offers"),
        _("/invite — invite a friend"),
        _("/stop — no more offers (receipts still come)"),
        _("/mydata — everything we keep about you"),
        _("/forget — erase your data"),
        "",
        _(
            "Pay your bill with me or at the counter and you become a member of {store} "
            "automatically: no form to fill in."
        ).format(store=store),
    ]
    extra = role_line(role, store)
    if extra:
        lines += ["", extra]
    return "\n".join(lines)


def _benefits(treatment: Treatment) -> list[str]:
    found = []
    if treatment.birthday == "coupon":
        found.append(_("a birthday gift"))
    if treatment.new_dish == "coupon":
        found.append(_("a free tasting of every new dish"))
    if treatment.holiday == "coupon":
        found.append(_("a gift on holidays"))
    return found


def tier_up_text(policy: Policy, *, before: str | None, after: str, locale: str) -> str:
    """The congratulation for reaching a higher tier, naming what is new for the member."""
    name = policy.tiers.display_name(after, locale)
    lines = [_("Congratulations — you are now {tier}!").format(tier=name)]
    had = set(_benefits(policy.treatment_for(before))) if before is not None else set()
    new = [b for b in _benefits(policy.treatment_for(after)) if b not in had]
    if new:
        lines.append(_("New for you:"))
        lines += [f"• {benefit}" for benefit in new]
    lines.append(_("Thank you for coming back. /card shows your tier and what comes next."))
    return "\n".join(lines)


def tier_down_text(policy: Policy, *, after: str, locale: str) -> str:
    """Only sent when the policy says downgrades are told (tiers.downgrade = "notify")."""
    return _(
        "Your tier is now {tier}: tiers follow your visits of the last {days} days. "
        "/card shows how to move up again — we hope to see you soon!"
    ).format(tier=policy.tiers.display_name(after, locale), days=policy.tiers.window_days)
