"""Manual grades and labels: `/member <n>` (the member's page, with buttons to grade and label),
`/grade <n> <grade> ["reason"] [until YYYY-MM-DD]` (or `auto`: back to the figures) and
`/tag <n> <labels>` (or `-`: none). Managers and owners only; the role is the role of each
message and press."""

from __future__ import annotations

import re
import shlex
from datetime import date, datetime

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InaccessibleMessage, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from loyalty import grades
from loyalty.clock import Clock
from loyalty.errors import NotAllowed
from loyalty.grades import GradeProblem
from loyalty.policy import Policy
from loyalty.stores import StoreInfo
from models.tables import Role
from ui.grades import grade_line, grade_problem_text, labels_line, member_page_text
from ui.keyboards.grades import GradeSet, LabelToggle, member_keyboard

_NUMBER = re.compile(r"#?[0-9]{1,9}")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_LIFT = ("auto", "-")


def _manager(role: Role) -> None:
    if not role.at_least(Role.MANAGER):
        raise NotAllowed("grade")


def _words(text: str) -> list[str] | None:
    """Shell-like words ("neighbour, banquets" in quotes is one), typographic quotes included."""
    for a, b in (("“", '"'), ("”", '"'), ("「", '"'), ("」", '"')):
        text = text.replace(a, b)
    try:
        return shlex.split(text)
    except ValueError:
        return None


async def show_member(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    role: Role,
    clock: Clock,
    policy: Policy,
    store: StoreInfo,
    locale: str,
) -> None:
    _manager(role)
    assert message.from_user is not None
    number = (command.args or "").strip()
    if not _NUMBER.fullmatch(number):
        await message.answer(_("Usage: /member <member number>, for example /member 12"))
        return
    try:
        page = await grades.member_page(
            session,
            member_id=int(number.lstrip("#")),
            viewer_telegram_id=message.from_user.id,
            role=role,
            policy=policy,
            now=clock.now(),
        )
    except GradeProblem as problem:
        await message.answer(grade_problem_text(problem, policy, locale))
        return
    await message.answer(
        member_page_text(page, policy, timezone=store.timezone, locale=locale),
        reply_markup=member_keyboard(page, policy, locale),
    )


def _grade_usage(policy: Policy) -> str:
    return _(
        'Usage: /grade <member number> <grade> ["reason"] [until YYYY-MM-DD], for example\n'
        '/grade 12 A "neighbour, banquets" until 2027-03-31\n'
        "/grade 12 auto — back to the grade of their figures\n"
        "Grades: {grades}"
    ).format(grades=", ".join(reversed(policy.tiers.keys)))


async def grade(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    role: Role,
    clock: Clock,
    policy: Policy,
    store: StoreInfo,
    locale: str,
) -> None:
    _manager(role)
    assert message.from_user is not None
    words = _words(command.args or "")
    if not words or len(words) < 2 or not _NUMBER.fullmatch(words[0]):
        await message.answer(_grade_usage(policy))
        return
    member_id, tier, rest = int(words[0].lstrip("#")), words[1], words[2:]
    until: datetime | None = None
    if rest and _DAY.fullmatch(rest[-1]):
        try:
            day = date.fromisoformat(rest[-1])
        except ValueError:
            await message.answer(_grade_usage(policy))
            return
        until = grades.end_of_day(day, timezone=store.timezone)
        rest = rest[:-1]
        if rest and rest[-1].lower() in ("until", "to", "至", "到"):
            rest = rest[:-1]
    now = clock.now()
    try:
        if tier.lower() in _LIFT:
            done = await grades.lift_grade(
                session,
                member_id=member_id,
                by_telegram_id=message.from_user.id,
                role=role,
                policy=policy,
                now=now,
            )
        else:
            done = await grades.set_grade(
                session,
                member_id=member_id,
                tier=tier,
                reason=" ".join(rest),
                until=until,
                by_telegram_id=message.from_user.id,
                role=role,
                policy=policy,
                now=now,
            )
    except GradeProblem as problem:
        await message.answer(grade_problem_text(problem, policy, locale))
        return
    await message.answer(
        _("Member #{id}: {grade}").format(
            id=member_id,
            grade=grade_line(done, policy, timezone=store.timezone, locale=locale),
        )
    )


async def tag(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    role: Role,
    clock: Clock,
    policy: Policy,
    locale: str,
) -> None:
    _manager(role)
    assert message.from_user is not None
    words = _words(command.args or "")
    if not words or len(words) < 2 or not _NUMBER.fullmatch(words[0]):
        await message.answer(
            _(
                "Usage: /tag <member number> <labels>, for example /tag 12 neighbour, student\n"
                "/tag 12 - removes them all. Labels: {labels}"
            ).format(labels=", ".join(policy.labels))
        )
        return
    member_id = int(words[0].lstrip("#"))
    try:
        labels = () if words[1:] == ["-"] else grades.parse_labels(words[1:], policy)
        done = await grades.set_labels(
            session,
            member_id=member_id,
            labels=labels,
            by_telegram_id=message.from_user.id,
            role=role,
            policy=policy,
            now=clock.now(),
        )
    except GradeProblem as problem:
        await message.answer(grade_problem_text(problem, policy, locale))
        return
    await message.answer(
        _("Member #{id}: {labels}").format(
            id=member_id, labels=labels_line(done.labels, policy, locale)
        )
    )


async def _refresh_page(
    query: CallbackQuery,
    session: AsyncSession,
    *,
    role: Role,
    member_id: int,
    policy: Policy,
    store: StoreInfo,
    locale: str,
    now: datetime,
) -> None:
    page = await grades.member_page(
        session,
        member_id=member_id,
        viewer_telegram_id=query.from_user.id,
        role=role,
        policy=policy,
        now=now,
    )
    if query.message is not None and not isinstance(query.message, InaccessibleMessage):
        await query.message.edit_text(
            member_page_text(page, policy, timezone=store.timezone, locale=locale),
            reply_markup=member_keyboard(page, policy, locale),
        )


async def grade_pressed(
    query: CallbackQuery,
    callback_data: GradeSet,
    session: AsyncSession,
    role: Role,
    clock: Clock,
    policy: Policy,
    store: StoreInfo,
    locale: str,
) -> None:
    _manager(role)  # the role now, not when the page was shown
    now = clock.now()
    member_id = callback_data.member_id
    try:
        if not callback_data.tier:
            await grades.lift_grade(
                session,
                member_id=member_id,
                by_telegram_id=query.from_user.id,
                role=role,
                policy=policy,
                now=now,
            )
        else:
            await grades.set_grade(
                session,
                member_id=member_id,
                tier=callback_data.tier,
                reason="",
                until=None,
                by_telegram_id=query.from_user.id,
                role=role,
                policy=policy,
                now=now,
            )
    except GradeProblem as problem:
        await query.answer(grade_problem_text(problem, policy, locale), show_alert=True)
        return
    await query.answer(_("Saved."))
    await _refresh_page(
        query,
        session,
        role=role,
        member_id=member_id,
        policy=policy,
        store=store,
        locale=locale,
        now=now,
    )


async def label_pressed(
    query: CallbackQuery,
    callback_data: LabelToggle,
    session: AsyncSession,
    role: Role,
    clock: Clock,
    policy: Policy,
    store: StoreInfo,
    locale: str,
) -> None:
    _manager(role)
    now = clock.now()
    member_id = callback_data.member_id
    try:
        page = await grades.member_page(
            session,
            member_id=member_id,
            viewer_telegram_id=query.from_user.id,
            role=role,
            policy=policy,
            now=now,
        )
        have = page.grade.labels
        key = callback_data.label
        labels = tuple(k for k in have if k != key) if key in have else (*have, key)
        await grades.set_labels(
            session,
            member_id=member_id,
            labels=labels,
            by_telegram_id=query.from_user.id,
            role=role,
            policy=policy,
            now=now,
        )
    except GradeProblem as problem:
        await query.answer(grade_problem_text(problem, policy, locale), show_alert=True)
        return
    await query.answer(_("Saved."))
    await _refresh_page(
        query,
        session,
        role=role,
        member_id=member_id,
        policy=policy,
        store=store,
        locale=locale,
        now=now,
    )


def build_router() -> Router:
    router = Router(name="grades")
    router.message.register(show_member, Command("member"))
    router.message.register(grade, Command("grade"))
    router.message.register(tag, Command("tag"))
    router.callback_query.register(grade_pressed, GradeSet.filter())
    router.callback_query.register(label_pressed, LabelToggle.filter())
    return router
