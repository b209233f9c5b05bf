"""`/start <payload>`: every QR code and deep link lands here. The payload is verified (signed,
not expired) before anything is written, then handed to the journey it belongs to."""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from handlers import cashier, checkin, pay, staff
from loyalty.clock import Clock
from loyalty.qr import (
    CardPayload,
    CouponPayload,
    ExpiredPayload,
    InvalidPayload,
    QRSigner,
    ReceiptPayload,
    ReferralPayload,
    StaffInvitePayload,
    TablePayload,
)
from ui.texts import invalid_code_text


async def open_link(
    message: Message, command: CommandObject, signer: QRSigner, clock: Clock, **data: Any
) -> None:
    try:
        payload = signer.verify(command.args or "", now=clock.now())
    except ExpiredPayload:
        await message.answer(_("This code has expired. Please ask the staff for a new one."))
        return
    except InvalidPayload:
        await message.answer(invalid_code_text())
        return
    match payload:
        case TablePayload():
            await checkin.at_table(message, payload, clock=clock, **data)
        case ReferralPayload():
            await checkin.referred(message, payload, clock=clock, **data)
        case CardPayload():
            await cashier.card_scanned(message, payload, signer=signer, clock=clock, **data)
        case ReceiptPayload():
            await pay.claim(message, payload, signer=signer, clock=clock, **data)
        case StaffInvitePayload():
            await staff.join(message, payload, clock=clock, **data)
        case CouponPayload():
            await cashier.coupon_scanned(message, payload, clock=clock, **data)


def build_router() -> Router:
    router = Router(name="links")
    router.message.register(open_link, CommandStart(deep_link=True))
    return router
