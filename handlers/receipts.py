"""What a diner (and their referrer) is told after a payment; shared by every way to pay."""

from __future__ import annotations

from aiogram import Bot
from aiogram.types import BufferedInputFile
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.notify import tell
from loyalty import telegram_users
from loyalty.payments import PaymentOutcome
from loyalty.policy import Policy
from loyalty.qr import CardPayload, QRSigner, deep_link
from models import queries
from ui.images import qr_png
from ui.locales import locale_from_language_code
from ui.privacy import consent_prompt
from ui.receipts import receipt_text
from ui.texts import tier_up_text


async def send_card(
    bot: Bot, *, chat_id: int, member_id: int, signer: QRSigner, caption: str
) -> None:
    username = (await bot.me()).username or ""
    link = deep_link(username, signer.sign(CardPayload(member_id=member_id)))
    await bot.send_photo(
        chat_id,
        BufferedInputFile(qr_png(link), filename="member-card.png"),
        caption=f"{caption}\n\n{link}",
    )


async def tell_payer(
    bot: Bot,
    *,
    chat_id: int,
    outcome: PaymentOutcome,
    store_name: str,
    locale: str,
    policy: Policy,
    signer: QRSigner,
) -> None:
    """The receipt; the first time also the welcome with the member card and the consent ask."""
    await bot.send_message(
        chat_id, receipt_text(outcome, store_name=store_name, locale=locale, policy=policy)
    )
    if outcome.tier_up is not None and not outcome.enrolled:
        await bot.send_message(
            chat_id,
            tier_up_text(
                policy,
                before=outcome.tier_before,
                after=outcome.tier_up,
                locale=locale,
                currency=outcome.currency,
            ),
        )
    if outcome.enrolled and outcome.refused is None:
        welcome = _(
            "Welcome to {store} — you are now a member! This is your member card: show it at "
            "the counter and every visit counts. /card shows it again any time."
        ).format(store=store_name)
        await send_card(
            bot, chat_id=chat_id, member_id=outcome.member_id, signer=signer, caption=welcome
        )
        text, keyboard = consent_prompt(policy)
        await bot.send_message(chat_id, text, reply_markup=keyboard)


async def tell_referrer(
    bot: Bot,
    session: AsyncSession,
    *,
    outcome: PaymentOutcome,
    friend_name: str,
    i18n: I18n,
) -> None:
    if outcome.duplicate or not outcome.referral_points or outcome.referrer_member_id is None:
        return
    telegram_id = await queries.member_telegram_id(session, member_id=outcome.referrer_member_id)
    if telegram_id is None:
        return
    with i18n.use_locale(await their_locale(session, i18n, telegram_id)):
        text = _("{name} just became a member through your link: +{points} points for you!").format(
            name=friend_name, points=outcome.referral_points
        )
    await tell(bot.send_message(telegram_id, text), chat_id=telegram_id)  # the friend's payment
    # is theirs: a referrer who blocked the bot is no reason to tell the friend something failed


async def their_locale(session: AsyncSession, i18n: I18n, telegram_id: int) -> str:
    chosen, code = await telegram_users.locale_of(session, telegram_id=telegram_id)
    return chosen or locale_from_language_code(code, i18n.default_locale)
