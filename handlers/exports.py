"""The staff console's records: `/export` (managers and owners: CSV files in the chat) and
`/audit` (owners: the audit log, a page at a time, with Older / Newer buttons)."""

from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InaccessibleMessage,
    Message,
)
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty import audit, export, period_export, periods
from loyalty.clock import Clock
from loyalty.errors import NotAllowed
from loyalty.periods import PeriodProblem
from loyalty.policy import Policy
from loyalty.stores import StoreInfo
from models.tables import Role
from ui.exports import (
    audit_text,
    export_caption,
)
from ui.keyboards.audit import AuditNav, audit_keyboard
from ui.period_texts import period_problem_text

# -- /export -----------------------------------------------------------------------------------


async def export_csv(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    session_factory: async_sessionmaker[AsyncSession],
    role: Role,
    policy: Policy,
    clock: Clock,
    store: StoreInfo,
    bot: Bot,
) -> None:
    """`/export` (or `/export 2026-01-01 2026-03-31`): members, visits, payments and coupons,
    then the period reports (the last 3 months, or the dates given), one CSV document each."""
    if not role.at_least(Role.MANAGER):
        raise NotAllowed("export")
    assert message.from_user is not None
    try:
        period = periods.parse_custom(command.args or "", now=clock.now(), timezone=store.timezone)
    except PeriodProblem as problem:
        if (command.args or "").strip():
            await message.answer(period_problem_text(problem))
            return
        period = periods.current(periods.THREE_MONTHS, now=clock.now(), timezone=store.timezone)
    scope = await export.scope_for(
        session, telegram_id=message.from_user.id, role=role, policy=policy
    )
    # The files are read in short transactions of their own (export.build_files): this one
    # ends here, so the update holds no connection while they are built.
    await session.commit()
    files = await export.build_files(session_factory, scope=scope, now=clock.now())
    async with session_factory() as reading:
        files += await period_export.build_files(
            reading, scope=scope, period=period, policy=policy, now=clock.now()
        )
    await export.record_export(
        session, telegram_id=message.from_user.id, scope=scope, files=files, now=clock.now()
    )
    lines = [
        _("Your export: {count} CSV files (UTF-8, times in UTC, amounts as plain numbers).").format(
            count=len(files)
        )
    ]
    if not scope.personal_data:
        lines.append(_("Names and birthdays are left out: the policy keeps them from managers."))
    await message.answer("\n".join(lines))  # commits the audit line before the files go
    for file in files:
        await bot.send_document(
            message.chat.id,
            BufferedInputFile(file.data, filename=file.filename),
            caption=export_caption(file),
        )


# -- /audit ------------------------------------------------------------------------------------


async def show_audit(
    message: Message, session: AsyncSession, role: Role, store: StoreInfo, locale: str
) -> None:
    """`/audit`: the newest page of the audit log (owners only)."""
    if role is not Role.OWNER:
        raise NotAllowed("audit")
    found = await audit.page(session, reader=role)
    await message.answer(
        audit_text(found, timezone=store.timezone, locale=locale),
        reply_markup=audit_keyboard(found),
    )


async def turn_audit_page(
    query: CallbackQuery,
    callback_data: AuditNav,
    session: AsyncSession,
    role: Role,
    store: StoreInfo,
    locale: str,
) -> None:
    """Older / Newer: the presser must be an owner now, whoever the page was shown to."""
    if role is not Role.OWNER:
        raise NotAllowed("audit")
    found = await audit.page(
        session,
        reader=role,
        older_than=callback_data.older_than or None,
        newer_than=callback_data.newer_than or None,
    )
    await query.answer()
    if query.message is not None and not isinstance(query.message, InaccessibleMessage):
        await query.message.edit_text(
            audit_text(found, timezone=store.timezone, locale=locale),
            reply_markup=audit_keyboard(found),
        )


def build_router() -> Router:
    router = Router(name="exports")
    router.message.register(export_csv, Command("export"))
    router.message.register(show_audit, Command("audit"))
    router.callback_query.register(turn_audit_page, AuditNav.filter())
    return router
