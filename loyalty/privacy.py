"""A member's data beyond their own rows: the copies erasure must reach (issue 19).
`loyalty.members.erase` calls in here.

Where a member's personal data can be copied, and what erasure does with each copy:

- messages *to* them (the outbox, `telegram_id`/`member_id`): blanked by `members.erase`;
- messages to *someone else* that quote them — a low rating or a complaint forwarded to the
  owner and managers (`OutboxMessage.about_member_id`): the text, buttons and photo are blanked,
  and one not sent yet is cancelled;
- what they wrote (complaints, suggestions, survey answers: `Feedback.text`): blanked by
  `members.erase` (the star rating stays, anonymous);
- the audit log's details: their Telegram id is replaced by "[erased]" wherever a detail names
  it (a staff line about someone who was also a diner), and a staff role they no longer hold
  (its row keeps their id and name) is deleted; a role they still hold stays until they are
  removed from the staff;
- reservation notes: Regulars keeps none; export files: `/export` sends its CSV files in the
  chat and writes none to disk, so there is no file to delete.
"""

from __future__ import annotations

import re

from sqlalchemy import case, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models.tables import AuditLog, OutboxMessage, Staff

ERASED = "[erased]"
_UNSENT = ("pending", "sending")


async def forget_copies(session: AsyncSession, *, member_id: int | None, telegram_id: int) -> int:
    """Blank what other rows copied of this person (see the module docstring); how many rows
    changed."""
    changed = 0
    if member_id is not None:
        quoted = await session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.about_member_id) == member_id)
            .values(
                text="",
                buttons=None,
                photo=None,
                status=case(
                    (col(OutboxMessage.status).in_(_UNSENT), "cancelled"),
                    else_=col(OutboxMessage.status),
                ),
            )
            .execution_options(synchronize_session=False)
        )
        changed += int(quoted.rowcount)  # type: ignore[attr-defined]
    changed += await _scrub_audit(session, telegram_id=telegram_id)
    former = await session.execute(
        delete(Staff)
        .where(col(Staff.telegram_id) == telegram_id, col(Staff.revoked_at).is_not(None))
        .execution_options(synchronize_session=False)
    )
    changed += int(former.rowcount)  # type: ignore[attr-defined]
    return changed


async def _scrub_audit(session: AsyncSession, *, telegram_id: int) -> int:
    """The Telegram id, as a whole number, in audit details."""
    number = str(telegram_id)
    whole = re.compile(rf"(?<![0-9]){number}(?![0-9])")
    rows = (
        await session.execute(select(AuditLog).where(col(AuditLog.detail).contains(number)))
    ).scalars()
    changed = 0
    for row in rows:
        scrubbed = whole.sub(ERASED, row.detail)
        if scrubbed != row.detail:
            row.detail = scrubbed
            changed += 1
    return changed
