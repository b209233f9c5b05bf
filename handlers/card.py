"""The member card (/card) and the member's invitation link (/invite).

Non-members are told how to become one (pay here once); nothing is written for them.
"""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.receipts import send_card
from loyalty import member_account
from loyalty.clock import Clock
from loyalty.policy import Policy
from loyalty.qr import QRSigner, ReferralPayload, deep_link
from loyalty.stores import StoreInfo
from ui.card import card_text
from ui.texts import not_a_member_text


async def show_card(
    message: Message,
    session: AsyncSession,
    clock: Clock,
    policy: Policy,
    signer: QRSigner,
    store: StoreInfo,
    locale: str,
    bot: Bot,
) -> None:
    assert message.from_user is not None
    card = await member_account.get_card(
        session, telegram_id=message.from_user.id, policy=policy, now=clock.now()
    )
    if card is None:
        await message.answer(not_a_member_text())
        return
    await send_card(
        bot,
        chat_id=message.chat.id,
        member_id=card.member_id,
        signer=signer,
        caption=card_text(card, policy, store, locale),
    )


async def invite(
    message: Message,
    session: AsyncSession,
    policy: Policy,
    signer: QRSigner,
    store: StoreInfo,
    bot: Bot,
) -> None:
    assert message.from_user is not None
    member = await member_account.find_member(session, telegram_id=message.from_user.id)
    if member is None or member.id is None:
        await message.answer(not_a_member_text())
        return
    username = (await bot.me()).username or ""
    link = deep_link(username, signer.sign(ReferralPayload(member_id=member.id)))
    lines = [
        _("Bring a friend to {store}! Send them your personal link:").format(store=store.name),
        link,
        "",
        _(
            "Your friend becomes a member with their first payment here and earns points on "
            "every visit from then on."
        ),
    ]
    bonus = policy.points.referral_bonus
    if bonus:
        lines.append(
            ngettext(
                "You get {points} point when they pay for the first time.",
                "You get {points} points when they pay for the first time.",
                bonus,
            ).format(points=bonus)
        )
    await message.answer("\n".join(lines))


def build_router() -> Router:
    router = Router(name="card")
    router.message.register(show_card, Command("card"))
    router.message.register(invite, Command("invite"))
    return router
