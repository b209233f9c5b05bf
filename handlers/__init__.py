"""Routers, one file per journey. Each dispatcher gets fresh routers (several run in one process in
tests); the order below is the order updates are offered to them: commands before the
free-text steps of a flow, the fallback last."""

from __future__ import annotations

from aiogram import Router


def get_routers() -> list[Router]:
    from handlers import (
        broadcast,
        care,
        cashier,
        dishes,
        errors,
        exports,
        fallback,
        feedback,
        help,
        language,
        links,
        member,
        membership,
        pay,
        reports,
        staff,
        start,
        wallet,
    )

    return [
        errors.build_router(),
        links.build_router(),  # /start <payload>: QR codes and deep links
        start.build_router(),
        language.build_router(),
        help.build_router(),
        staff.build_router(),
        broadcast.build_router(),
        dishes.build_router(),
        exports.build_router(),  # /export, /audit
        reports.build_router(),  # /stats, /campaigns
        member.build_router(),
        wallet.build_router(),
        pay.build_router(),
        cashier.build_router(),
        feedback.build_router(),  # its free-text steps come after every command above
        care.build_router(),  # /care; its free-text steps (a manager's note) likewise
        membership.build_router(),
        fallback.build_router(),  # always last: catches what nobody else took
    ]
