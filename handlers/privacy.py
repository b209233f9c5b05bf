"""The member's privacy: the consent answer at enrolment, /stop (no more offers), /mydata (all we
keep, as a file) and /forget (erasure).

Non-members are told how to become one where it matters; /mydata and /forget work for anyone.
"""

from __future__ import annotations

import json

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.edits import edit_message, not_a_member
from loyalty import member_account
from loyalty.clock import Clock
from loyalty.policy import Policy
from loyalty.stores import StoreInfo
from ui.formatting import format_points
from ui.keyboards.profile import ConsentChoice, ForgetChoice, forget_keyboard
from ui.privacy import consent_confirmation, privacy_notice

EXPORT_FILE_NAME = "regulars-my-data.json"


async def answer_consent(
    query: CallbackQuery,
    callback_data: ConsentChoice,
    session: AsyncSession,
    clock: Clock,
    policy: Policy,
) -> None:
    answer = await member_account.answer_enrolment_consent(
        session,
        telegram_id=query.from_user.id,
        allowed=callback_data.allowed,
        policy=policy,
        now=clock.now(),
    )
    if answer is None:
        await not_a_member(query)
        return
    confirmation = consent_confirmation(answer.marketing)
    await query.answer(confirmation if answer.changed else None)
    await edit_message(query, f"{privacy_notice()}\n\n{confirmation}")


async def stop_offers(
    message: Message, session: AsyncSession, clock: Clock, policy: Policy, store: StoreInfo
) -> None:
    assert message.from_user is not None
    profile = await member_account.set_marketing(
        session,
        telegram_id=message.from_user.id,
        allowed=False,
        policy=policy,
        now=clock.now(),
        via="stop",
    )
    if profile is None:
        await message.answer(
            _("We send you no offers: only members get them, and only if they want them.")
        )
        return
    await message.answer(
        _(
            "Done: no more offers or news from {store}. You will still get your receipts and "
            "messages about your own payments. Changed your mind? Turn offers back on in "
            "/profile."
        ).format(store=store.name)
    )


async def my_data(
    message: Message,
    session: AsyncSession,
    clock: Clock,
    policy: Policy,
    store: StoreInfo,
    locale: str,
) -> None:
    assert message.from_user is not None
    document = await member_account.export_data(
        session, telegram_id=message.from_user.id, policy=policy, locale=locale, now=clock.now()
    )
    data = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")
    if document["member"] is None:
        caption = _(
            "Everything {store} keeps about you. You are not a member, so it is very little: "
            "your language and when you wrote to us."
        ).format(store=store.name)
    else:
        caption = _(
            "Everything {store} keeps about you: your profile, choices and consents, tier and "
            "its history, points, visits, payments, coupons, friends you brought and the "
            "messages we sent you. /forget erases it."
        ).format(store=store.name)
    await message.answer_document(
        BufferedInputFile(data, filename=EXPORT_FILE_NAME), caption=caption
    )


async def ask_forget(
    message: Message, session: AsyncSession, store: StoreInfo, locale: str
) -> None:
    assert message.from_user is not None
    member = await member_account.find_member(session, telegram_id=message.from_user.id)
    if member is None:
        text = _(
            "Erase what {store} keeps about you? You are not a member, so that is only your "
            "language and when you wrote to us."
        ).format(store=store.name)
    else:
        text = _(
            "Erase your data at {store}? Your name, birthday and choices are deleted and your "
            "visits and payments are no longer linked to you. Your points ({points}) and tier "
            "are lost. The restaurant keeps its accounts, without your name. This cannot be "
            "undone."
        ).format(store=store.name, points=format_points(member.points_balance, locale))
    await message.answer(text, reply_markup=forget_keyboard())


async def answer_forget(
    query: CallbackQuery, callback_data: ForgetChoice, session: AsyncSession, clock: Clock
) -> None:
    if not callback_data.confirm:
        await query.answer()
        await edit_message(query, _("Nothing was erased."))
        return
    erasure = await member_account.erase(session, telegram_id=query.from_user.id, now=clock.now())
    done = _("Done: your data is erased.")
    await query.answer(done)
    if erasure.member_id is not None:
        text = _(
            "Done: your data is erased. If you pay here again, you start afresh as a new member."
        )
    else:
        text = done
    await edit_message(query, text)


def build_router() -> Router:
    router = Router(name="privacy")
    router.message.register(stop_offers, Command("stop"))
    router.message.register(my_data, Command("mydata"))
    router.message.register(ask_forget, Command("forget"))
    router.callback_query.register(answer_consent, ConsentChoice.filter())
    router.callback_query.register(answer_forget, ForgetChoice.filter())
    return router
