"""The staff console's records: `/export` (managers and owners: CSV files in the chat) and
`/audit` (owners: the audit log, a page at a time, with Older / Newer buttons)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InaccessibleMessage,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty import audit, export, period_export, periods
from loyalty.clock import Clock
from loyalty.errors import NotAllowed
from loyalty.periods import PeriodProblem
from loyalty.policy import Policy
from loyalty.stores import StoreInfo
from models.tables import Role
from ui.formatting import format_date, format_local_time
from ui.keyboards.audit import AuditNav
from ui.period_texts import period_caption, period_problem_text

_DETAIL_CHARS = 80
_MESSAGE_CHARS = 4096


# -- /export -----------------------------------------------------------------------------------


def _caption(file: export.ExportFile) -> str:
    n = file.rows
    if file.kind == "members":
        return ngettext("Members: {n} row", "Members: {n} rows", n).format(n=n)
    if file.kind == "visits":
        return ngettext("Visits: {n} row", "Visits: {n} rows", n).format(n=n)
    if file.kind == "payments":
        return ngettext("Payments: {n} row", "Payments: {n} rows", n).format(n=n)
    if file.kind in period_export.KINDS:
        return period_caption(file.kind, n)
    return ngettext("Coupons: {n} row", "Coupons: {n} rows", n).format(n=n)


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
            caption=_caption(file),
        )


# -- /audit ------------------------------------------------------------------------------------


def action_text(action: str) -> str:
    """A known action key in the reader's language; an unknown key as it is."""
    phrases = {
        "payment.record": _("recorded a payment at the counter"),
        "payment.receipt": _("issued a receipt QR for a walk-in payment"),
        "payment.refund": _("refunded a payment"),
        "coupon.gift": _("gave a coupon as a gift"),
        "coupon.redeem": _("redeemed a coupon at the counter"),
        "member.erase": _("a member's data was erased at their request"),
        "person.erase": _("a person's data was erased at their request"),
        "staff.invite": _("created a staff invitation"),
        "staff.grant": _("gave a staff role"),
        "staff.revoke": _("took back a staff role"),
        "broadcast.send": _("sent a broadcast"),
        "broadcast.schedule": _("scheduled a broadcast"),
        "broadcast.cancel": _("cancelled a broadcast"),
        "dish.add": _("added a new dish"),
        "feedback.handled": _("marked feedback as handled"),
        "care.write": _("wrote to a member from the care list"),
        "care.ask": _("asked a member why they come less"),
        "care.done": _("marked a care list entry done"),
        "care.later": _("put a care list entry off until later"),
        "export": _("exported the data as CSV files"),
    }
    return phrases.get(action, action)


def audit_line(line: audit.AuditLine, *, timezone: str, locale: str) -> str:
    local_day = line.at.astimezone(ZoneInfo(timezone)).date()
    day = format_date(local_day, locale, "medium")
    when = f"{day} {format_local_time(line.at, timezone, locale)}"
    if line.actor_name:
        actor = line.actor_name
    elif line.actor_telegram_id is not None:
        actor = str(line.actor_telegram_id)
    else:
        actor = "—"
    text = f"{when} · {actor} · {action_text(line.action)}"
    detail = line.detail.strip()
    if detail:
        if len(detail) > _DETAIL_CHARS:
            detail = detail[: _DETAIL_CHARS - 1] + "…"
        text += f" ({detail})"
    return text


def audit_text(found: audit.AuditPage, *, timezone: str, locale: str) -> str:
    if not found.lines:
        return _("The audit log is empty.")
    lines = [_("Audit log, newest first ({zone} time):").format(zone=timezone), ""]
    lines += [audit_line(line, timezone=timezone, locale=locale) for line in found.lines]
    return "\n".join(lines)[:_MESSAGE_CHARS]


def audit_keyboard(found: audit.AuditPage) -> InlineKeyboardMarkup | None:
    buttons = []
    if found.has_older and found.oldest_id is not None:
        buttons.append(
            InlineKeyboardButton(
                text=_("◀ Older"), callback_data=AuditNav(older_than=found.oldest_id).pack()
            )
        )
    if found.has_newer and found.newest_id is not None:
        buttons.append(
            InlineKeyboardButton(
                text=_("Newer ▶"), callback_data=AuditNav(newer_than=found.newest_id).pack()
            )
        )
    return InlineKeyboardMarkup(inline_keyboard=[buttons]) if buttons else None


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
