"""Reading the audit log (`/audit`, owners only): newest first, a page at a time.

Pages are cut by id (keyset), not by offset: a page asked for as "older than #120" is the same
whatever was written since, and a long log costs one indexed query a page. Ids follow the order
the lines were written, which is the order of `at` (the clock never goes back).

Writing stays with each action (models.queries.add_audit, in the action's own transaction).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loyalty.errors import NotAllowed
from models.tables import AuditLog, Role, Staff

PAGE_SIZE = 20


@dataclass(frozen=True, slots=True)
class AuditLine:
    id: int
    at: datetime
    actor_telegram_id: int | None
    actor_name: str | None
    """The actor's staff display name, when they have one."""
    action: str
    detail: str


@dataclass(frozen=True, slots=True)
class AuditPage:
    lines: list[AuditLine]
    """Newest first."""
    has_older: bool
    has_newer: bool

    @property
    def oldest_id(self) -> int | None:
        return self.lines[-1].id if self.lines else None

    @property
    def newest_id(self) -> int | None:
        return self.lines[0].id if self.lines else None


async def page(
    session: AsyncSession,
    *,
    reader: Role,
    older_than: int | None = None,
    newer_than: int | None = None,
    size: int = PAGE_SIZE,
) -> AuditPage:
    """The newest `size` lines, or those just older than id `older_than`, or just newer than
    id `newer_than`; newest first. Owners only (NotAllowed for anyone else)."""
    if reader is not Role.OWNER:
        raise NotAllowed("audit")
    query = select(AuditLog)
    if newer_than is not None:
        query = query.where(col(AuditLog.id) > newer_than).order_by(col(AuditLog.id))
    else:
        if older_than is not None:
            query = query.where(col(AuditLog.id) < older_than)
        query = query.order_by(col(AuditLog.id).desc())
    rows = list((await session.execute(query.limit(size))).scalars())
    if newer_than is not None:
        rows.reverse()
        if len(rows) < size:  # reached the newest line: show a full page ending there
            return await page(session, reader=reader, size=size)
    names = await _staff_names(session, {r.actor_telegram_id for r in rows})
    lines = [
        AuditLine(
            id=r.id,
            at=r.at,
            actor_telegram_id=r.actor_telegram_id,
            actor_name=names.get(r.actor_telegram_id) if r.actor_telegram_id else None,
            action=r.action,
            detail=r.detail,
        )
        for r in rows
        if r.id is not None
    ]
    if not lines:
        return AuditPage([], has_older=False, has_newer=False)
    return AuditPage(
        lines,
        has_older=await _exists(session, col(AuditLog.id) < lines[-1].id),
        has_newer=await _exists(session, col(AuditLog.id) > lines[0].id),
    )


async def _exists(session: AsyncSession, condition: object) -> bool:
    found = await session.scalar(select(col(AuditLog.id)).where(condition).limit(1))  # type: ignore[arg-type]
    return found is not None


async def _staff_names(session: AsyncSession, ids: set[int | None]) -> dict[int, str]:
    """Display names of these people as staff (any of their staff rows, the latest first)."""
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    result = await session.execute(
        select(col(Staff.telegram_id), col(Staff.display_name))
        .where(col(Staff.telegram_id).in_(wanted), col(Staff.display_name) != "")
        .order_by(col(Staff.id))
    )
    return {int(telegram_id): str(name) for telegram_id, name in result.all()}  # latest wins
