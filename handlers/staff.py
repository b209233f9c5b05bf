"""Staff: invite links (owner → managers and cashiers, manager → cashiers) and refunds."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.notify import gift_not_told, member_not_told, person_not_told, tell
from handlers.receipts import their_locale
from loyalty import coupons, payments, roles, staff
from loyalty.clock import Clock
from loyalty.errors import NotAllowed
from loyalty.policy import Policy
from loyalty.qr import QRSigner, StaffInvitePayload, deep_link
from loyalty.stores import StoreInfo
from models import queries
from models.tables import Role
from ui.commands import set_chat_menu
from ui.keyboards.staff import InviteRole, RemoveStaff
from ui.staff import staff_line
from ui.texts import coupon_problem_text, coupon_text, coupon_until, role_name

_NUMBER = re.compile(r"#?[0-9]{1,9}")
"""A payment or member number as typed ("12", "#12"): ASCII digits, within a 32-bit id."""


async def staff_menu(
    message: Message, role: Role, session: AsyncSession, store: StoreInfo, locale: str
) -> None:
    if not role.at_least(Role.MANAGER):
        raise NotAllowed("staff")
    team = await staff.list_staff(session, store_id=store.id)
    lines = [_("Staff of {store}:").format(store=store.name)]
    lines += [f"• {staff_line(person, store.timezone, locale)}" for person in team] or [
        _("Nobody yet.")
    ]
    removable = [person for person in team if staff.may_invite(role, person.role)]
    buttons = [
        [
            InlineKeyboardButton(
                text=_("Remove {name}").format(name=person.display_name or str(person.telegram_id)),
                callback_data=RemoveStaff(id=person.id).pack(),
            )
        ]
        for person in removable
    ]
    buttons.append(
        [
            InlineKeyboardButton(
                text=_("Invite a cashier"), callback_data=InviteRole(role=Role.CASHIER.value).pack()
            )
        ]
    )
    if role is Role.OWNER:
        buttons.append(
            [
                InlineKeyboardButton(
                    text=_("Invite a manager"),
                    callback_data=InviteRole(role=Role.MANAGER.value).pack(),
                )
            ]
        )
    lines += ["", _("Invite a colleague: the link works once, for 24 hours.")]
    await message.answer(
        "\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=buttons)
    )


async def make_invite(
    query: CallbackQuery,
    callback_data: InviteRole,
    session: AsyncSession,
    role: Role,
    store: StoreInfo,
    signer: QRSigner,
    clock: Clock,
    bot: Bot,
) -> None:
    invite = await staff.create_invite(
        session,
        store_id=store.id,
        role=Role(callback_data.role),
        inviter_telegram_id=query.from_user.id,
        inviter_role=role,
        now=clock.now(),
    )
    username = (await bot.me()).username or ""
    link = deep_link(
        username, signer.sign(StaffInvitePayload(invite_id=invite.id, expires_at=invite.expires_at))
    )
    await query.answer()
    if query.message is not None:
        await query.message.answer(
            _("Send this link to your new {role}. It works once, for 24 hours:\n{link}").format(
                role=role_name(invite.role), link=link
            )
        )


async def remove_staff(
    query: CallbackQuery,
    callback_data: RemoveStaff,
    session: AsyncSession,
    role: Role,
    store: StoreInfo,
    clock: Clock,
    i18n: I18n,
    bot: Bot,
    owner_ids: Collection[int],
) -> None:
    """Remove a cashier or manager: their role ends now (their next tap is a diner's), and
    their command menu becomes that of the role they still hold (a diner's, usually)."""
    if not role.at_least(Role.MANAGER):
        raise NotAllowed("staff")
    removed = await staff.revoke(
        session,
        staff_id=callback_data.id,
        by_telegram_id=query.from_user.id,
        by_role=role,
        now=clock.now(),
    )
    name = removed.display_name or str(removed.telegram_id)
    holder = await roles.role_holder(session, telegram_id=removed.telegram_id, owner_ids=owner_ids)
    await set_chat_menu(bot, i18n, holder)  # the tools go with the role, before anyone is told
    await query.answer(_("{name} is no longer on the staff.").format(name=name))
    if query.message is not None:
        await query.message.answer(
            _("{name} ({role}) was removed from the staff.").format(
                name=name, role=role_name(removed.role)
            )
        )
    with i18n.use_locale(await their_locale(session, i18n, removed.telegram_id)):
        text = _("You are no longer a {role} of {store}.").format(
            role=role_name(removed.role), store=store.name
        )
    not_told = await tell(bot.send_message(removed.telegram_id, text), chat_id=removed.telegram_id)
    if not_told is not None and query.message is not None:
        await query.message.answer(person_not_told(not_told))


async def join(
    message: Message,
    payload: StaffInvitePayload,
    *,
    session: AsyncSession,
    clock: Clock,
    bot: Bot,
    i18n: I18n,
    owner_ids: Collection[int],
    **_data: Any,
) -> None:
    assert message.from_user is not None
    joined = await staff.accept_invite(
        session,
        invite_id=payload.invite_id,
        telegram_id=message.from_user.id,
        display_name=message.from_user.first_name,
        now=clock.now(),
    )
    holder = await roles.role_holder(session, telegram_id=message.from_user.id, owner_ids=owner_ids)
    await set_chat_menu(bot, i18n, holder)  # their best role's tools, ready with the welcome
    await message.answer(
        _(
            "Welcome to the team of {store}! You are now a {role}. Send /help to see your tools."
        ).format(store=joined.store_name, role=role_name(joined.role))
    )


async def refund(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    role: Role,
    clock: Clock,
    policy: Policy,
    i18n: I18n,
    bot: Bot,
) -> None:
    """`/refund <payment id>`: reverse points, visit and referral credit — once."""
    if not role.at_least(Role.MANAGER):
        raise NotAllowed("refund")
    arg = (command.args or "").strip().lstrip("#")
    if not _NUMBER.fullmatch(arg):
        await message.answer(_("Usage: /refund <payment number>, for example /refund 12"))
        return
    assert message.from_user is not None
    outcome = await payments.refund_payment(
        session,
        payment_id=int(arg),
        by_telegram_id=message.from_user.id,
        policy=policy,
        now=clock.now(),
    )
    lines = [_("Payment #{id} refunded.").format(id=outcome.payment_id)]
    if outcome.points_reversed:
        lines.append(_("{points} points taken back.").format(points=outcome.points_reversed))
    if outcome.visit_voided:
        lines.append(_("The visit no longer counts."))
    if outcome.referral_points_reversed:
        lines.append(
            _("The referrer's {points} points taken back.").format(
                points=outcome.referral_points_reversed
            )
        )
    telegram_id = (
        await queries.member_telegram_id(session, member_id=outcome.member_id)
        if outcome.member_id is not None
        else None
    )
    if telegram_id is not None:
        with i18n.use_locale(await their_locale(session, i18n, telegram_id)):
            text = _("Your payment #{id} was refunded; its points and visit were removed.").format(
                id=outcome.payment_id
            )
        # sending commits the refund first (CommitBeforeSending): the member hears only of
        # what is recorded, and the manager hears whether they did
        not_told = await tell(bot.send_message(telegram_id, text), chat_id=telegram_id)
        if not_told is not None:
            lines.append(member_not_told(not_told))
    await message.answer("\n".join(lines))


async def gift(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    role: Role,
    clock: Clock,
    policy: Policy,
    store: StoreInfo,
    locale: str,
    i18n: I18n,
    bot: Bot,
) -> None:
    """`/gift <member number> <coupon>`: a coupon from the policy's templates, as a gift."""
    if not role.at_least(Role.MANAGER):
        raise NotAllowed("gift")
    assert message.from_user is not None
    parts = (command.args or "").split()
    templates = ", ".join(policy.coupons.templates) or "—"
    if len(parts) != 2 or not _NUMBER.fullmatch(parts[0]):
        await message.answer(
            _(
                "Usage: /gift <member number> <coupon>, for example /gift 12 {example}\n"
                "Coupons: {templates}"
            ).format(example=next(iter(policy.coupons.templates), "ten_off"), templates=templates)
        )
        return
    member_id, template = int(parts[0].lstrip("#")), parts[1]  # checked: ASCII digits
    try:
        view = await coupons.gift(
            session,
            member_id=member_id,
            template_key=template,
            by_telegram_id=message.from_user.id,
            policy=policy,
            now=clock.now(),
        )
    except coupons.CouponProblem as problem:
        extra = _("Coupons: {templates}").format(templates=templates)
        await message.answer(f"{coupon_problem_text(problem)}\n{extra}")
        return
    await message.answer(
        _("Gift sent to member #{id}: {coupon} ({until}).").format(
            id=member_id,
            coupon=coupon_text(view, policy, locale),
            until=coupon_until(view, timezone=store.timezone, locale=locale),
        )
    )
    telegram_id = await queries.member_telegram_id(session, member_id=member_id)
    if telegram_id is not None:
        with i18n.use_locale(await their_locale(session, i18n, telegram_id)):
            their = i18n.current_locale
            text = _("{store} sent you a gift: {coupon} ({until}). /wallet shows it.").format(
                store=store.name,
                coupon=coupon_text(view, policy, their),
                until=coupon_until(view, timezone=store.timezone, locale=their),
            )
        not_told = await tell(bot.send_message(telegram_id, text), chat_id=telegram_id)
        if not_told is not None:
            await message.answer(gift_not_told(not_told))


def build_router() -> Router:
    router = Router(name="staff")
    router.message.register(staff_menu, Command("staff"))
    router.callback_query.register(make_invite, InviteRole.filter())
    router.callback_query.register(remove_staff, RemoveStaff.filter())
    router.message.register(refund, Command("refund"))
    router.message.register(gift, Command("gift"))
    return router
