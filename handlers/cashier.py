"""The counter: a cashier scans a member's card QR and records the bill, or issues a
receipt-claim QR for a walk-in with `/bill 86.50`."""

from __future__ import annotations

import secrets
from dataclasses import replace
from decimal import Decimal
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, InaccessibleMessage, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.notify import diner_not_told, tell
from handlers.pay import read_amount
from handlers.receipts import send_card, tell_payer, their_locale
from loyalty import coupons, perks, visits
from loyalty.clock import Clock
from loyalty.errors import NotAllowed
from loyalty.payments import (
    Channel,
    Payer,
    PaymentOutcome,
    PaymentSource,
    StoreRef,
    issue_receipt,
    record_payment,
)
from loyalty.policy import Policy
from loyalty.qr import CardPayload, CouponPayload, QRSigner, ReceiptPayload, deep_link
from loyalty.stores import StoreInfo
from models import queries
from models.tables import Role
from ui.formatting import format_local_time, format_money
from ui.images import qr_png
from ui.keyboards.pay import CashierCancel, CashierConfirm, cashier_confirm_keyboard
from ui.keyboards.wallet import CouponConfirm, confirm_coupon_keyboard
from ui.pay import coupon_seen_text
from ui.perks import cashier_perk_line
from ui.receipts import receipt_text
from ui.texts import coupon_problem_text, coupon_text


class CounterFlow(StatesGroup):
    amount = State()
    confirm = State()


class CouponFlow(StatesGroup):
    amount = State()
    confirm = State()


async def card_scanned(
    message: Message,
    payload: CardPayload,
    *,
    session: AsyncSession,
    role: Role,
    state: FSMContext,
    policy: Policy,
    signer: QRSigner,
    store: StoreInfo,
    locale: str,
    bot: Bot,
    **_data: Any,
) -> None:
    assert message.from_user is not None
    summary = await visits.member_summary_by_id(session, member_id=payload.member_id)
    if summary is None:
        await message.answer(_("This member card is no longer valid."))
        return
    if not role.at_least(Role.CASHIER):
        own = await visits.member_summary(session, telegram_id=message.from_user.id)
        if own is not None and own.member_id == summary.member_id:
            await send_card(
                bot,
                chat_id=message.chat.id,
                member_id=summary.member_id,
                signer=signer,
                caption=_("Your member card. Show it at the counter."),
            )
        else:
            await message.answer(
                _("This is a member card: only the restaurant's staff can use it.")
            )
        return
    await state.set_state(CounterFlow.amount)
    await state.update_data(member_id=summary.member_id)
    # A cashier sees the name and tier only — never phone, birthday or history (DESIGN §1.7).
    shown = _("Member: {name} · {tier}\nSend the bill amount to record it.").format(
        name=summary.display_name or "—", tier=policy.tiers.display_name(summary.tier, locale)
    )
    perk = perks.perk_of(policy, summary.tier)
    if perk is not None:  # seed 001: the perk is given at every visit, so the cashier is told
        shown += "\n" + cashier_perk_line(perk, store.currency, locale)
    await message.answer(shown)


async def counter_amount(
    message: Message,
    state: FSMContext,
    role: Role,
    session: AsyncSession,
    store: StoreInfo,
    policy: Policy,
    locale: str,
) -> None:
    if not role.at_least(Role.CASHIER):  # removed since the card was scanned
        await state.clear()
        raise NotAllowed("counter")
    amount = read_amount(message.text or "", currency=store.currency, policy=policy, locale=locale)
    if isinstance(amount, str):  # what is wrong with it, for the person
        await message.answer(amount + "\n" + _("Send /cancel to stop."))
        return
    token = secrets.token_urlsafe(12)
    data = await state.get_data()
    summary = await visits.member_summary_by_id(session, member_id=int(data["member_id"]))
    perk = (
        perks.at_counter(policy, tier=summary.tier, amount=amount, currency=store.currency)
        if summary is not None
        else None
    )
    lines = []
    if perk is not None:  # the perk is recorded with the payment; a percentage off the bill
        bill = format_money(amount, store.currency, locale)
        worth = format_money(perk.worth, store.currency, locale)
        lines.append(
            _("Bill {bill} less the standing perk of {perk}.").format(bill=bill, perk=worth)
            if perk.off_bill
            else _("Standing perk given with this bill (worth {perk}).").format(perk=worth)
        )
        amount -= perk.off_bill
    await state.set_state(CounterFlow.confirm)
    await state.update_data(
        amount=str(amount),
        token=token,
        perk=[perk.tier, perk.kind, str(perk.off_bill), str(perk.worth)] if perk else None,
    )
    shown = format_money(amount, store.currency, locale)
    lines.append(_("Record {amount} for this member?").format(amount=shown))
    await message.answer(
        "\n".join(lines),
        reply_markup=cashier_confirm_keyboard(token, shown),
    )


async def counter_confirm(
    query: CallbackQuery,
    callback_data: CashierConfirm,
    state: FSMContext,
    role: Role,
    session: AsyncSession,
    store: StoreInfo,
    policy: Policy,
    signer: QRSigner,
    clock: Clock,
    locale: str,
    i18n: I18n,
    bot: Bot,
) -> None:
    if not role.at_least(Role.CASHIER):  # removed since the bill was typed
        await state.clear()
        raise NotAllowed("counter")
    data = await state.get_data()
    if data.get("token") != callback_data.token:
        await query.answer(_("This button is no longer active."))
        return
    member_id = int(data["member_id"])
    member_telegram_id = await queries.member_telegram_id(session, member_id=member_id)
    summary = await visits.member_summary_by_id(session, member_id=member_id)
    if member_telegram_id is None or summary is None:
        await state.clear()
        await query.answer(_("This member card is no longer valid."), show_alert=True)
        return
    outcome = await record_payment(
        session,
        source=PaymentSource.CASHIER,
        external_id=callback_data.token,
        store=StoreRef(id=store.id, timezone=store.timezone),
        amount=Decimal(data["amount"]),
        currency=store.currency,
        payer=Payer(
            telegram_id=member_telegram_id,
            first_name=summary.display_name,
            channel=Channel.CASHIER,
        ),
        policy=policy,
        now=clock.now(),
        cashier_telegram_id=query.from_user.id,
    )
    outcome = await _record_perk(session, data.get("perk"), outcome, store, clock)
    await state.clear()
    await query.answer()  # commits the payment: the diner is told only what is recorded
    not_told = None
    if outcome.refused is None and not outcome.duplicate:
        with i18n.use_locale(await their_locale(session, i18n, member_telegram_id)):
            not_told = await tell(
                tell_payer(
                    bot,
                    chat_id=member_telegram_id,
                    outcome=outcome,
                    store_name=store.name,
                    locale=i18n.current_locale,
                    policy=policy,
                    signer=signer,
                ),
                chat_id=member_telegram_id,
            )
    cashier_note = receipt_text(outcome, store_name=store.name, locale=locale, policy=policy)
    if query.message is not None and not isinstance(query.message, InaccessibleMessage):
        lines = [
            _("Recorded for {name} (payment #{id}).").format(
                name=summary.display_name or "—", id=outcome.payment_id
            ),
            cashier_note,
        ]
        if not_told is not None:
            lines.append(diner_not_told(not_told))
        await query.message.edit_text("\n".join(lines))


async def _record_perk(
    session: AsyncSession,
    perk: list[str] | None,
    outcome: PaymentOutcome,
    store: StoreInfo,
    clock: Clock,
) -> PaymentOutcome:
    """The standing perk the confirmation showed, recorded with the payment (not again for a
    payment recorded before); the outcome names a percentage taken off the bill."""
    if not perk or outcome.duplicate:
        return outcome
    counter_perk = perks.CounterPerk(
        tier=perk[0], kind=perk[1], off_bill=Decimal(perk[2]), worth=Decimal(perk[3])
    )
    await perks.record_with_payment(
        session,
        member_id=outcome.member_id,
        store_id=store.id,
        payment_id=outcome.payment_id,
        perk=counter_perk,
        now=clock.now(),
    )
    if not counter_perk.off_bill:
        return outcome
    return replace(outcome, perk_discount=counter_perk.off_bill)


async def counter_cancel(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await query.answer(_("Cancelled."))
    if query.message is not None and not isinstance(query.message, InaccessibleMessage):
        await query.message.edit_text(_("Cancelled."))


async def walk_in_bill(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    role: Role,
    store: StoreInfo,
    policy: Policy,
    signer: QRSigner,
    clock: Clock,
    locale: str,
    bot: Bot,
) -> None:
    """`/bill 86.50`: a one-time receipt QR for a diner who paid at the counter."""
    if not role.at_least(Role.CASHIER):
        raise NotAllowed("bill")
    amount = read_amount(command.args or "", currency=store.currency, policy=policy, locale=locale)
    if isinstance(amount, str):  # what is wrong with it, for the person
        await message.answer(amount + "\n" + _("Usage: /bill 86.50"))
        return
    receipt = await issue_receipt(
        session,
        source=PaymentSource.RECEIPT,
        external_id=f"{message.chat.id}:{message.message_id}",
        store=StoreRef(id=store.id, timezone=store.timezone),
        amount=amount,
        currency=store.currency,
        policy=policy,
        now=clock.now(),
        cashier_telegram_id=message.chat.id,
    )
    username = (await bot.me()).username or ""
    link = deep_link(
        username,
        signer.sign(ReceiptPayload(payment_id=receipt.payment_id, expires_at=receipt.expires_at)),
    )
    until = format_local_time(receipt.expires_at, store.timezone, locale)
    caption = _(
        "Receipt QR for {amount} (payment #{id}). Let the diner scan it to join and earn "
        "points. One scan only; valid until {until}."
    ).format(
        amount=format_money(amount, store.currency, locale), id=receipt.payment_id, until=until
    )
    await bot.send_photo(
        message.chat.id,
        BufferedInputFile(qr_png(link), filename=f"receipt-{receipt.payment_id}.png"),
        caption=f"{caption}\n\n{link}",
    )


# -- coupons at the counter -----------------------------------------------------------------------


async def _ask_for_the_bill(
    message: Message,
    state: FSMContext,
    seen: coupons.AtCounter,
    policy: Policy,
    store: StoreInfo,
    locale: str,
) -> None:
    await state.set_state(CouponFlow.amount)
    await state.update_data(redemption_id=seen.redemption_id)
    await message.answer(coupon_seen_text(seen, policy, store, locale))


async def coupon_scanned(
    message: Message,
    payload: CouponPayload,
    *,
    session: AsyncSession,
    role: Role,
    state: FSMContext,
    policy: Policy,
    clock: Clock,
    store: StoreInfo,
    locale: str,
    **_data: Any,
) -> None:
    """The cashier's camera opened a guest's redemption QR."""
    assert message.from_user is not None
    if not role.at_least(Role.CASHIER):
        await message.answer(_("This is a coupon: show it at the counter, the cashier scans it."))
        return
    try:
        seen = await coupons.at_counter(
            session,
            redemption_id=payload.coupon_id,
            cashier_telegram_id=message.from_user.id,
            now=clock.now(),
        )
    except coupons.CouponProblem as problem:
        await message.answer(coupon_problem_text(problem))
        return
    await _ask_for_the_bill(message, state, seen, policy, store, locale)


async def redeem_code(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    role: Role,
    state: FSMContext,
    policy: Policy,
    clock: Clock,
    store: StoreInfo,
    locale: str,
) -> None:
    """`/redeem 123456`: the code a guest reads out."""
    assert message.from_user is not None
    if not role.at_least(Role.CASHIER):
        raise NotAllowed("redeem")
    if not (command.args or "").strip():  # no code at all: a usage slip, not a wrong code
        await message.answer(_("Usage: /redeem 123456"))
        return
    try:
        seen = await coupons.find_by_code(
            session,
            short_code=command.args or "",
            cashier_telegram_id=message.from_user.id,
            policy=policy,
            now=clock.now(),
        )
    except coupons.CouponProblem as problem:
        await message.answer(coupon_problem_text(problem))
        return
    if seen is None:
        await message.answer(coupon_problem_text(coupons.CouponProblem("wrong_code")))
        return
    await _ask_for_the_bill(message, state, seen, policy, store, locale)


async def coupon_amount(
    message: Message,
    state: FSMContext,
    role: Role,
    session: AsyncSession,
    clock: Clock,
    store: StoreInfo,
    policy: Policy,
    locale: str,
) -> None:
    assert message.from_user is not None
    if not role.at_least(Role.CASHIER):  # removed since the coupon was scanned
        await state.clear()
        raise NotAllowed("redeem")
    amount = read_amount(message.text or "", currency=store.currency, policy=policy, locale=locale)
    if isinstance(amount, str):  # what is wrong with it, for the person
        await message.answer(amount + "\n" + _("Send /cancel to stop."))
        return
    redemption_id = int((await state.get_data())["redemption_id"])
    try:
        seen = await coupons.at_counter(
            session,
            redemption_id=redemption_id,
            cashier_telegram_id=message.from_user.id,
            now=clock.now(),
        )
    except coupons.CouponProblem as problem:
        await state.clear()
        await message.answer(coupon_problem_text(problem))
        return
    if amount < seen.coupon.min_spend:
        minimum = format_money(seen.coupon.min_spend, store.currency, locale)
        await message.answer(
            _(
                "The bill must be at least {minimum} for this coupon. Send the amount again, or "
                "/cancel."
            ).format(minimum=minimum)
        )
        return
    discount = seen.coupon.discount(amount)
    token = secrets.token_urlsafe(12)
    await state.set_state(CouponFlow.confirm)
    await state.update_data(amount=str(amount), token=token)
    to_pay = format_money(amount - discount, store.currency, locale)
    await message.answer(
        _("Bill {amount} − coupon {discount} = {to_pay}. Redeem the coupon?").format(
            amount=format_money(amount, store.currency, locale),
            discount=format_money(discount, store.currency, locale),
            to_pay=to_pay,
        ),
        reply_markup=confirm_coupon_keyboard(token, to_pay),
    )


async def coupon_confirm(
    query: CallbackQuery,
    callback_data: CouponConfirm,
    state: FSMContext,
    session: AsyncSession,
    role: Role,
    store: StoreInfo,
    policy: Policy,
    signer: QRSigner,
    clock: Clock,
    locale: str,
    i18n: I18n,
    bot: Bot,
) -> None:
    data = await state.get_data()
    if data.get("token") != callback_data.token or not role.at_least(Role.CASHIER):
        await query.answer(_("This button is no longer active."))
        return
    await state.clear()
    try:
        done = await coupons.redeem_at_counter(
            session,
            redemption_id=int(data["redemption_id"]),
            cashier_telegram_id=query.from_user.id,
            bill_amount=Decimal(data["amount"]),
            store=StoreRef(id=store.id, timezone=store.timezone),
            policy=policy,
            now=clock.now(),
        )
    except coupons.CouponProblem as problem:
        await query.answer(coupon_problem_text(problem), show_alert=True)
        return
    await query.answer()  # commits the redemption
    not_told = None
    if done.member_telegram_id is not None:
        with i18n.use_locale(await their_locale(session, i18n, done.member_telegram_id)):
            not_told = await tell(
                tell_payer(
                    bot,
                    chat_id=done.member_telegram_id,
                    outcome=done.payment,
                    store_name=store.name,
                    locale=i18n.current_locale,
                    policy=policy,
                    signer=signer,
                ),
                chat_id=done.member_telegram_id,
            )
    if query.message is not None and not isinstance(query.message, InaccessibleMessage):
        text = _("Redeemed: {coupon}. {to_pay} to pay (payment #{id}).").format(
            coupon=coupon_text(done.coupon, policy, locale),
            to_pay=format_money(done.paid, store.currency, locale),
            id=done.payment.payment_id,
        )
        if not_told is not None:
            text = f"{text}\n{diner_not_told(not_told)}"
        await query.message.edit_text(text)


def build_router() -> Router:
    router = Router(name="cashier")
    router.message.register(walk_in_bill, Command("bill"))
    router.message.register(redeem_code, Command("redeem"))
    router.message.register(
        coupon_amount, StateFilter(CouponFlow.amount), F.text, ~F.text.startswith("/")
    )
    router.callback_query.register(coupon_confirm, CouponConfirm.filter())
    router.message.register(
        counter_amount, StateFilter(CounterFlow.amount), F.text, ~F.text.startswith("/")
    )
    router.callback_query.register(counter_confirm, CashierConfirm.filter())
    router.callback_query.register(counter_cancel, CashierCancel.filter())
    return router
