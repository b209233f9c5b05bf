"""Table QR check-in and referral links (called from handlers/links.py)."""

from __future__ import annotations

from typing import Any

from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty import referrals, visits
from loyalty.clock import Clock
from loyalty.qr import ReferralPayload, TablePayload
from loyalty.stores import StoreInfo
from ui.keyboards.pay import pay_keyboard
from ui.texts import invalid_code_text


async def at_table(
    message: Message,
    payload: TablePayload,
    *,
    session: AsyncSession,
    clock: Clock,
    **_data: Any,
) -> None:
    assert message.from_user is not None
    result = await visits.check_in(
        session,
        telegram_id=message.from_user.id,
        store_id=payload.store_id,
        table_number=payload.table,
        now=clock.now(),
    )
    member = result.member
    if member is None:
        text = _(
            "Welcome to {store}! You are at table {table}.\n\n"
            "Pay your bill here in the chat and you become a member at once — no form, "
            "no app. Every visit after that earns points and treats."
        ).format(store=result.store_name, table=result.table_number)
    else:
        next_visit = member.visit_count + 1
        text = "\n".join(
            [
                _("Welcome back to {store}, {name}! Table {table}.").format(
                    store=result.store_name,
                    name=member.display_name or message.from_user.first_name,
                    table=result.table_number,
                ),
                _("This will be visit #{n}.").format(n=next_visit),
                ngettext(
                    "You have {points} point.",
                    "You have {points} points.",
                    member.points_balance,
                ).format(points=member.points_balance),
            ]
        )
        if member.usable_coupons:
            text += "\n" + ngettext(
                "You have {n} coupon to use on this bill: /wallet",
                "You have {n} coupons to use on this bill (one per bill): /wallet",
                member.usable_coupons,
            ).format(n=member.usable_coupons)
    await message.answer(text, reply_markup=pay_keyboard(result.store_id))


async def referred(
    message: Message,
    payload: ReferralPayload,
    *,
    session: AsyncSession,
    clock: Clock,
    store: StoreInfo,
    **_data: Any,
) -> None:
    assert message.from_user is not None
    note = await referrals.remember_referrer(
        session,
        telegram_id=message.from_user.id,
        referrer_member_id=payload.member_id,
        now=clock.now(),
    )
    if note is None:
        await message.answer(invalid_code_text())
    elif note.own_link:
        await message.answer(_("This is your own invitation link: share it with friends!"))
    elif note.already_member:
        await message.answer(
            _("You are already a member of {store}. Welcome back!").format(store=store.name)
        )
    else:
        await message.answer(
            _(
                "{friend} invited you to {store}! Pay your first bill here and you both get "
                "something: you become a member, {friend} earns points."
            ).format(friend=note.referrer_name or _("A friend"), store=store.name),
            reply_markup=pay_keyboard(store.id),
        )
