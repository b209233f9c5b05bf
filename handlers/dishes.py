"""`/newdish`: name → description → photo → taste tags → saved; the scheduler then invites
members per tier (a free tasting, bring friends, an announcement). Managers and owners only;
every step re-checks the role."""

from __future__ import annotations

from collections.abc import Callable

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty import dishes
from loyalty.clock import Clock
from loyalty.dishes import DishProblem
from loyalty.errors import NotAllowed
from loyalty.policy import Policy
from loyalty.stores import StoreInfo
from models.tables import Role
from ui.dishes import problem_text, saved_text
from ui.keyboards.console import TagPick, tags_keyboard

WakeJob = Callable[[str], None]


class NewDishFlow(StatesGroup):
    name = State()
    description = State()
    photo = State()
    tags = State()


def _manager(role: Role) -> None:
    if not role.at_least(Role.MANAGER):
        raise NotAllowed("newdish")


async def start(message: Message, role: Role, state: FSMContext) -> None:
    _manager(role)
    await state.clear()
    await state.set_state(NewDishFlow.name)
    await message.answer(_("A new dish! What is it called? (/cancel to stop)"))


async def name_given(message: Message, role: Role, state: FSMContext) -> None:
    _manager(role)
    try:
        name = dishes.check_name(message.text or "")
    except DishProblem as problem:
        await message.answer(problem_text(problem))
        return
    await state.update_data(name=name)
    await state.set_state(NewDishFlow.description)
    await message.answer(_("Describe it in a sentence or two for the members (or /skip)."))


async def description_given(message: Message, role: Role, state: FSMContext) -> None:
    _manager(role)
    try:
        description = dishes.check_description(message.text or "")
    except DishProblem as problem:
        await message.answer(problem_text(problem))
        return
    await state.update_data(description=description)
    await _ask_photo(message, state)


async def _ask_photo(message: Message, state: FSMContext) -> None:
    await state.set_state(NewDishFlow.photo)
    await message.answer(_("Send a photo of it (or /skip)."))


async def photo_given(
    message: Message, role: Role, state: FSMContext, policy: Policy, locale: str
) -> None:
    _manager(role)
    assert message.photo
    await state.update_data(photo=message.photo[-1].file_id)
    await _ask_tags(message, state, policy, locale)


async def not_a_photo(message: Message, role: Role) -> None:
    _manager(role)
    await message.answer(_("Please send a photo, or /skip."))


async def _ask_tags(message: Message, state: FSMContext, policy: Policy, locale: str) -> None:
    await state.set_state(NewDishFlow.tags)
    await state.update_data(tags=[])
    await message.answer(
        _("Which tastes does it have? Members who like them are invited first."),
        reply_markup=tags_keyboard("dish", [], policy, locale, done=_("Save and invite members")),
    )


async def skip(
    message: Message, role: Role, state: FSMContext, policy: Policy, locale: str
) -> None:
    _manager(role)
    current = await state.get_state()
    if current == NewDishFlow.description.state:
        await state.update_data(description="")
        await _ask_photo(message, state)
    else:
        await state.update_data(photo=None)
        await _ask_tags(message, state, policy, locale)


async def tag_picked(
    query: CallbackQuery,
    callback_data: TagPick,
    role: Role,
    state: FSMContext,
    session: AsyncSession,
    policy: Policy,
    store: StoreInfo,
    clock: Clock,
    locale: str,
    wake_job: WakeJob | None = None,
) -> None:
    _manager(role)
    message = query.message if not isinstance(query.message, InaccessibleMessage) else None
    data = await state.get_data()
    if await state.get_state() != NewDishFlow.tags.state or "name" not in data:
        await query.answer(_("This button is no longer active."), show_alert=True)
        return
    tags: list[str] = list(data.get("tags", []))
    if callback_data.value:
        if callback_data.value in tags:
            tags.remove(callback_data.value)
        elif callback_data.value in policy.taste_tags:
            tags.append(callback_data.value)
        await state.update_data(tags=tags)
        await query.answer()
        if message is not None:
            await message.edit_reply_markup(
                reply_markup=tags_keyboard(
                    "dish", tags, policy, locale, done=_("Save and invite members")
                )
            )
        return
    dish = await dishes.add_dish(
        session,
        store_id=store.id,
        name=str(data["name"]),
        description=str(data.get("description", "")),
        photo=data.get("photo"),
        tags=tags,
        created_by=query.from_user.id,
        policy=policy,
        now=clock.now(),
    )
    await state.clear()
    await query.answer()
    if wake_job is not None:
        wake_job("new_dishes")  # the dish is committed: answer() went out first
    if message is not None:
        await message.edit_text(saved_text(dish, policy, locale))


def build_router() -> Router:
    router = Router(name="dishes")
    router.message.register(start, Command("newdish"))
    router.message.register(
        skip, Command("skip"), StateFilter(NewDishFlow.description, NewDishFlow.photo)
    )
    router.message.register(
        name_given, StateFilter(NewDishFlow.name), F.text, ~F.text.startswith("/")
    )
    router.message.register(
        description_given, StateFilter(NewDishFlow.description), F.text, ~F.text.startswith("/")
    )
    router.message.register(photo_given, StateFilter(NewDishFlow.photo), F.photo)
    router.message.register(not_a_photo, StateFilter(NewDishFlow.photo), ~F.text.startswith("/"))
    router.callback_query.register(tag_picked, TagPick.filter(F.scope == "dish"))
    return router
