"""The texts of /staff."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _

from loyalty import staff
from ui.formatting import format_date
from ui.texts import role_name


def staff_line(person: staff.StaffMember, timezone: str, locale: str) -> str:
    return _("{name} — {role} since {date}").format(
        name=person.display_name or str(person.telegram_id),
        role=role_name(person.role),
        date=format_date(person.since.astimezone(ZoneInfo(timezone)).date(), locale, "medium"),
    )
