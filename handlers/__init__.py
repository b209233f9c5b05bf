"""Routers, one file per journey. Each dispatcher gets fresh routers (several run in one process in
tests: a router joins one dispatcher only); the order below is the order updates are offered to
them: commands before the free-text steps of a flow, the fallback last."""

from __future__ import annotations

from aiogram import Router

from handlers import (
    bot_blocked,
    broadcast,
    callbacks,
    card,
    care,
    cashier,
    dishes,
    errors,
    exports,
    fallback,
    feedback,
    grades,
    help,
    language,
    links,
    pay,
    privacy,
    profile,
    reports,
    reservations,
    staff,
    start,
    wallet,
)


def get_routers() -> list[Router]:
    return [
        errors.build_router(),
        callbacks.build_router(),  # malformed button data: refused before any journey
        callbacks.build_router(),  # malformed button data: refused before any journey
        links.build_router(),  # /start <payload>: QR codes and deep links
        start.build_router(),
        language.build_router(),
        help.build_router(),
        staff.build_router(),
        grades.build_router(),  # /member, /grade, /tag
        broadcast.build_router(),
        dishes.build_router(),
        exports.build_router(),  # /export, /audit
        reports.build_router(),  # /stats, /campaigns
        card.build_router(),  # /card, /invite
        profile.build_router(),  # /profile and its buttons
        privacy.build_router(),  # consent, /stop, /mydata, /forget
        wallet.build_router(),
        pay.build_router(),
        cashier.build_router(),
        reservations.build_router(),  # /reserve, /reservations; its note step after commands
        feedback.build_router(),  # its free-text steps come after every command above
        care.build_router(),  # /care; its free-text steps (a manager's note) likewise
        bot_blocked.build_router(),
        fallback.build_router(),  # always last: catches what nobody else took
    ]
