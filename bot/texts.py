"""Texts shared by several handlers (and later by the scheduler), rendered in the current locale."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

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
