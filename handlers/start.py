"""/start: the welcome. Deep-link payloads (table, card, receipt QR codes) arrive here too."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import CommandStart
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from loyalty.policy import Policy
from loyalty.stores import StoreInfo
from models.tables import Role
from ui.keyboards.start import Menu, welcome_keyboard
from ui.texts import how_it_works_text, role_line


async def start(message: Message, store: StoreInfo, role: Role) -> None:
    name = message.from_user.first_name if message.from_user else ""
    text = _(
        "Welcome to {store}, {name}!\n\n"
        "There is no sign-up form here: pay your bill with me or at the counter and you are a "
        "member. Every visit then counts toward your tier, treats and birthday surprises.\n\n"
        "Scan the QR code on your table to check in."
    ).format(store=store.name, name=name)
    extra = role_line(role, store.name)
    if extra:
        text = f"{text}\n\n{extra}"
    await message.answer(text, reply_markup=welcome_keyboard())


async def how_it_works(query: CallbackQuery, store: StoreInfo, policy: Policy, locale: str) -> None:
    await query.answer()
    if query.message is not None:
        await query.message.answer(how_it_works_text(store.name, policy, locale))


def build_router() -> Router:
    router = Router(name="start")
    router.message.register(start, CommandStart())
    router.callback_query.register(how_it_works, Menu.filter(F.item == "how"))
    return router
