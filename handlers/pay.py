"""Paying in chat (Telegram Payments) and claiming a walk-in receipt by QR."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, LabeledPrice, Message, PreCheckoutQuery
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.receipts import tell_payer, tell_referrer
from loyalty import bills, coupons, stores
from loyalty.bills import BillProblem
from loyalty.clock import Clock
from loyalty.money import InvalidAmount, parse_amount
from loyalty.payments import Channel, Payer, StoreRef, claim_receipt, receipt_store
from loyalty.policy import Policy
from loyalty.qr import QRSigner, ReceiptPayload
from loyalty.stores import StoreInfo
from ui.formatting import format_money
from ui.keyboards.pay import PayStart
from ui.keyboards.wallet import BillCoupon, bill_coupon_button, no_coupon_button, rows
from ui.pay import amount_problem_text, amount_prompt, bill_problem_text, coupon_choice_text
from ui.texts import coupon_problem_text


class PayFlow(StatesGroup):
    amount = State()
    coupon = State()


async def ask_amount(
    query: CallbackQuery,
    callback_data: PayStart,
    state: FSMContext,
    payment_token: str | None,
    session: AsyncSession,
    locale: str,
    policy: Policy,
) -> None:
    await query.answer()
    if query.message is None:
        return
    if payment_token is None:
        await query.message.answer(
            _(
                "Paying in the chat is not set up here yet. Please pay at the counter and "
                "scan the receipt QR code the cashier gives you."
            )
        )
        return
    store = await stores.store_info(session, store_id=callback_data.store_id)
    if store is None:
        return
    await state.set_state(PayFlow.amount)
    await state.update_data(store_id=store.id)
    await query.message.answer(amount_prompt(store.currency, locale))


async def pay_command(
    message: Message,
    state: FSMContext,
    payment_token: str | None,
    store: StoreInfo,
    locale: str,
    policy: Policy,
) -> None:
    if payment_token is None:
        await message.answer(
            _(
                "Paying in the chat is not set up here yet. Please pay at the counter and "
                "scan the receipt QR code the cashier gives you."
            )
        )
        return
    await state.set_state(PayFlow.amount)
    await state.update_data(store_id=store.id)
    await message.answer(amount_prompt(store.currency, locale))


def read_amount(text: str, *, currency: str, policy: Policy, locale: str) -> Decimal | str:
    """The bill amount a person typed, or the message saying what is wrong with it."""
    maximum = policy.max_bill_for(currency)
    try:
        return parse_amount(text, currency=currency, maximum=maximum)
    except InvalidAmount as exc:
        return amount_problem_text(exc, currency, format_money(maximum, currency, locale))


async def amount_entered(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    payment_token: str | None,
    clock: Clock,
    locale: str,
    policy: Policy,
    bot: Bot,
) -> None:
    assert message.from_user is not None
    data = await state.get_data()
    store = await stores.store_info(session, store_id=int(data.get("store_id", 0)))
    token = payment_token
    if store is None or token is None:
        await state.clear()
        return
    amount = read_amount(message.text or "", currency=store.currency, policy=policy, locale=locale)
    if isinstance(amount, str):  # what is wrong with it, for the person
        await message.answer(amount + "\n" + _("Send /cancel to stop."))
        return
    usable = await coupons.applicable_for_bill(
        session, telegram_id=message.from_user.id, amount=amount, now=clock.now()
    )
    if usable:  # one coupon per bill: the diner picks one, or none
        await state.set_state(PayFlow.coupon)
        await state.update_data(amount=str(amount))
        buttons = [
            bill_coupon_button(coupon_choice_text(c, amount, policy, locale), c.id) for c in usable
        ]
        await message.answer(
            _("Use a coupon on this bill of {amount}?").format(
                amount=format_money(amount, store.currency, locale)
            ),
            reply_markup=rows(*buttons, no_coupon_button()),
        )
        return
    bill = await bills.open_bill(
        session,
        telegram_id=message.from_user.id,
        store_id=store.id,
        amount=amount,
        policy=policy,
        now=clock.now(),
    )
    await state.clear()
    await send_invoice(bot, chat_id=message.chat.id, bill=bill, token=token, locale=locale)


async def coupon_chosen(
    query: CallbackQuery,
    callback_data: BillCoupon,
    state: FSMContext,
    session: AsyncSession,
    payment_token: str | None,
    clock: Clock,
    locale: str,
    policy: Policy,
    bot: Bot,
) -> None:
    data = await state.get_data()
    token = payment_token
    if await state.get_state() != PayFlow.coupon.state or "amount" not in data or token is None:
        await query.answer(_("This button is no longer active."))
        return
    try:
        bill = await bills.open_bill(
            session,
            telegram_id=query.from_user.id,
            store_id=int(data.get("store_id", 0)),
            amount=Decimal(data["amount"]),
            policy=policy,
            now=clock.now(),
            coupon_id=callback_data.coupon_id or None,
        )
    except coupons.CouponProblem as problem:
        await query.answer(coupon_problem_text(problem), show_alert=True)
        return
    except BillProblem as problem:
        await state.clear()
        await query.answer(bill_problem_text(problem), show_alert=True)
        return
    await state.clear()
    await query.answer()
    await send_invoice(bot, chat_id=query.from_user.id, bill=bill, token=token, locale=locale)


async def send_invoice(
    bot: Bot, *, chat_id: int, bill: bills.BillInfo, token: str, locale: str
) -> None:
    title = _("Bill at {store}").format(store=bill.store_name)[:32]
    due = format_money(bill.amount, bill.currency, locale)
    if bill.discount:
        due = _("{amount} after a coupon of {discount}").format(
            amount=due, discount=format_money(bill.discount, bill.currency, locale)
        )
    if bill.perk:
        due = _("{amount} after your standing perk of {perk}").format(
            amount=due, perk=format_money(bill.perk, bill.currency, locale)
        )
    if bill.table_number is not None:
        description = _("Table {table} · {amount}").format(table=bill.table_number, amount=due)
    else:
        description = due
    await bot.send_invoice(
        chat_id=chat_id,
        title=title,
        description=description,
        payload=bill.invoice_payload,
        provider_token=token,
        currency=bill.currency,
        prices=[LabeledPrice(label=_("Bill"), amount=bill.minor_units)],
    )


async def cancel(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("Cancelled."))


async def pre_checkout(
    query: PreCheckoutQuery, session: AsyncSession, clock: Clock, bot: Bot
) -> None:
    """Answer within Telegram's 10 s: one indexed lookup, no network call before the answer."""
    try:
        await bills.check_pre_checkout(
            session,
            payload=query.invoice_payload,
            telegram_id=query.from_user.id,
            currency=query.currency,
            total_amount=query.total_amount,
            now=clock.now(),
        )
    except BillProblem as problem:
        await query.answer(ok=False, error_message=bill_problem_text(problem))
        return
    await query.answer(ok=True)


async def paid(
    message: Message,
    session: AsyncSession,
    clock: Clock,
    policy: Policy,
    signer: QRSigner,
    bot: Bot,
    locale: str,
    i18n: I18n,
) -> None:
    payment = message.successful_payment
    assert payment is not None
    assert message.from_user is not None
    person = message.from_user
    outcome = await bills.settle_bill(
        session,
        payload=payment.invoice_payload,
        telegram_charge_id=payment.telegram_payment_charge_id,
        currency=payment.currency,
        total_amount=payment.total_amount,
        payer_telegram_id=person.id,
        payer_first_name=person.first_name,
        policy=policy,
        now=clock.now(),
    )
    store = await stores.store_info(session, store_id=outcome.store_id)
    await tell_payer(
        bot,
        chat_id=message.chat.id,
        outcome=outcome,
        store_name=store.name if store else "",
        locale=locale,
        policy=policy,
        signer=signer,
    )
    await tell_referrer(bot, session, outcome=outcome, friend_name=person.first_name, i18n=i18n)


async def claim(
    message: Message,
    payload: ReceiptPayload,
    *,
    session: AsyncSession,
    clock: Clock,
    policy: Policy,
    signer: QRSigner,
    bot: Bot,
    locale: str,
    i18n: I18n,
    **_data: Any,
) -> None:
    """A walk-in scanned the receipt QR: enrol and credit them (only the first scanner)."""
    assert message.from_user is not None
    person = message.from_user
    store = await receipt_store(session, payment_id=payload.payment_id)
    outcome = await claim_receipt(
        session,
        payment_id=payload.payment_id,
        store=StoreRef(id=store.id, timezone=store.timezone),
        payer=Payer(
            telegram_id=person.id,
            first_name=person.first_name,
            channel=Channel.RECEIPT_CLAIM,
        ),
        policy=policy,
        now=clock.now(),
    )
    await tell_payer(
        bot,
        chat_id=message.chat.id,
        outcome=outcome,
        store_name=store.name,
        locale=locale,
        policy=policy,
        signer=signer,
    )
    await tell_referrer(bot, session, outcome=outcome, friend_name=person.first_name, i18n=i18n)


def build_router() -> Router:
    router = Router(name="pay")
    router.message.register(cancel, Command("cancel"))
    router.message.register(pay_command, Command("pay"))
    router.callback_query.register(ask_amount, PayStart.filter())
    router.message.register(
        amount_entered, StateFilter(PayFlow.amount), F.text, ~F.text.startswith("/")
    )
    router.pre_checkout_query.register(pre_checkout)
    router.message.register(paid, F.successful_payment)
    router.callback_query.register(coupon_chosen, BillCoupon.filter())
    return router
