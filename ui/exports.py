"""The texts of /export (a caption per file) and /audit (the log, a line per action)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from loyalty import audit, export, period_export
from ui.formatting import format_date, format_local_time
from ui.period_texts import period_caption

_DETAIL_CHARS = 80


_MESSAGE_CHARS = 4096


def export_caption(file: export.ExportFile) -> str:
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
        "feedback.adopted": _("adopted a member's suggestion"),
        "member.grade": _("graded a member by hand"),
        "member.grade_lifted": _("gave a member back the grade their figures give"),
        "member.labels": _("changed a member's labels"),
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
