"""/help: what the bot can do for this person."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from loyalty.stores import StoreInfo
from models.tables import Role
from ui.texts import help_text


async def show_help(message: Message, store: StoreInfo, role: Role) -> None:
    await message.answer(help_text(role, store.name))


def build_router() -> Router:
    router = Router(name="help")
    router.message.register(show_help, Command("help"))
    return router
