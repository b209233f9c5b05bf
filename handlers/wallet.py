"""The member's wallet: `/wallet` lists usable coupons and points; Use gives a one-time QR and a
code for the cashier; points can be exchanged for a coupon."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty import coupons
from loyalty.clock import Clock
from loyalty.policy import Policy
from loyalty.qr import CouponPayload, QRSigner, deep_link
from loyalty.stores import StoreInfo
from ui.formatting import format_local_time
from ui.images import qr_png
from ui.keyboards.wallet import WalletExchange, WalletUse, exchange_button, rows, use_button
from ui.texts import coupon_problem_text, coupon_text, coupon_until, not_a_member_text
from ui.wallet import offer_label, wallet_text


async def show_wallet(
    message: Message,
    session: AsyncSession,
    clock: Clock,
    policy: Policy,
    store: StoreInfo,
    locale: str,
) -> None:
    assert message.from_user is not None
    held = await coupons.wallet(
        session, telegram_id=message.from_user.id, policy=policy, now=clock.now()
    )
    if held is None:
        await message.answer(not_a_member_text())
        return
    buttons = [use_button(coupon_text(c, policy, locale), c.id) for c in held.coupons]
    buttons += [
        exchange_button(offer_label(o.template, policy, store, locale), o.template, o.cost)
        for o in held.offers
        if o.affordable
    ]
    await message.answer(
        wallet_text(held, policy, store, locale), reply_markup=rows(*buttons) if buttons else None
    )


async def use_coupon(
    query: CallbackQuery,
    callback_data: WalletUse,
    session: AsyncSession,
    clock: Clock,
    policy: Policy,
    signer: QRSigner,
    store: StoreInfo,
    locale: str,
    bot: Bot,
) -> None:
    try:
        ticket = await coupons.request_redemption(
            session,
            coupon_id=callback_data.coupon_id,
            telegram_id=query.from_user.id,
            policy=policy,
            now=clock.now(),
        )
    except coupons.CouponProblem as problem:
        await query.answer(coupon_problem_text(problem), show_alert=True)
        return
    await query.answer()
    username = (await bot.me()).username or ""
    link = deep_link(
        username,
        signer.sign(CouponPayload(coupon_id=ticket.redemption_id, expires_at=ticket.expires_at)),
    )
    until = format_local_time(ticket.expires_at, store.timezone, locale)
    caption = _(
        "{coupon}\nShow this QR at the counter, or read out the code {code}. "
        "It works once, until {until}."
    ).format(coupon=coupon_text(ticket.coupon, policy, locale), code=ticket.short_code, until=until)
    caption = f"{caption}\n\n{link}"  # the web chat and screen readers: the QR as a link
    await bot.send_photo(
        query.from_user.id,
        BufferedInputFile(qr_png(link), filename="coupon.png"),
        caption=caption,
    )


async def exchange(
    query: CallbackQuery,
    callback_data: WalletExchange,
    session: AsyncSession,
    clock: Clock,
    policy: Policy,
    store: StoreInfo,
    locale: str,
    bot: Bot,
) -> None:
    member = await coupons.member_of_person(session, telegram_id=query.from_user.id)
    if member is None or member.id is None:
        await query.answer(not_a_member_text(), show_alert=True)
        return
    try:
        view = await coupons.exchange_points(
            session,
            member_id=member.id,
            template_key=callback_data.template,
            policy=policy,
            now=clock.now(),
            request_key=callback_data.key,
        )
    except coupons.CouponProblem as problem:
        await query.answer(coupon_problem_text(problem), show_alert=True)
        return
    await query.answer()
    text = _("Exchanged: {coupon} is in your wallet ({until}). Points left: {points}.")
    await bot.send_message(
        query.from_user.id,
        text.format(
            coupon=coupon_text(view, policy, locale),
            until=coupon_until(view, timezone=store.timezone, locale=locale),
            points=member.points_balance,
        ),
    )


def build_router() -> Router:
    router = Router(name="wallet")
    router.message.register(show_wallet, Command("wallet"))
    router.callback_query.register(use_coupon, WalletUse.filter())
    router.callback_query.register(exchange, WalletExchange.filter())
    return router
