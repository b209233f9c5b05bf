"""Who is who: owners from the configuration, cashiers and managers from the staff table."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import queries
from models.tables import Role, Staff


async def role_of(session: AsyncSession, *, telegram_id: int, owner_ids: Collection[int]) -> Role:
    if telegram_id in owner_ids:
        return Role.OWNER
    return await queries.best_staff_role(session, telegram_id=telegram_id)


def role_for(telegram_id: int, *, staff_role: Role, owner_ids: Collection[int]) -> Role:
    """The role of someone whose best staff role is already known (people.touch reads it)."""
    return Role.OWNER if telegram_id in owner_ids else staff_role


@dataclass(frozen=True, slots=True)
class RoleHolder:
    """Someone whose command menu follows their role: the role now, and their language."""

    telegram_id: int
    role: Role
    locale: str | None
    """The language they picked (None: their Telegram language decides)."""
    language_code: str | None


async def role_holder(
    session: AsyncSession, *, telegram_id: int, owner_ids: Collection[int]
) -> RoleHolder:
    """One person's role as of now (after a grant or a removal) and their language."""
    user, staff_role = await queries.get_user_and_staff_role(session, telegram_id=telegram_id)
    return RoleHolder(
        telegram_id=telegram_id,
        role=role_for(telegram_id, staff_role=staff_role, owner_ids=owner_ids),
        locale=user.locale if user is not None else None,
        language_code=user.language_code if user is not None else None,
    )


async def role_holders(session: AsyncSession, *, owner_ids: Collection[int]) -> list[RoleHolder]:
    """The owners and everyone the staff table names, removed or not: at start-up each gets
    the menu of their role now (someone removed while the bot was down gets the diners' back)."""
    named = await session.execute(select(col(Staff.telegram_id)).distinct())
    ids = sorted({*owner_ids, *named.scalars().all()})
    return [await role_holder(session, telegram_id=i, owner_ids=owner_ids) for i in ids]


async def grant(
    session: AsyncSession,
    *,
    telegram_id: int,
    store_id: int,
    role: Role,
    display_name: str,
    granted_by: int | None,
    now: datetime,
) -> None:
    """Make someone staff of a store (idempotent for the same person, store and role).

    A new grant and a changed role are in the audit log (same transaction); granting the role
    someone already has writes nothing."""
    if role is Role.OWNER or role is Role.DINER:
        raise ValueError("owners come from OWNER_IDS; diners need no grant")
    for staff in await queries.active_staff(session, telegram_id=telegram_id):
        if staff.store_id == store_id:
            if staff.role != role.value:
                before = staff.role
                staff.role = role.value
                await queries.add_audit(
                    session,
                    actor_telegram_id=granted_by,
                    action="staff.grant",
                    detail=f"{telegram_id} {role.value} store={store_id} from={before}",
                    now=now,
                )
            return
    await queries.add_staff(
        session,
        telegram_id=telegram_id,
        store_id=store_id,
        role=role.value,
        display_name=display_name,
        now=now,
    )
    await queries.add_audit(
        session,
        actor_telegram_id=granted_by,
        action="staff.grant",
        detail=f"{telegram_id} {role.value} store={store_id}",
        now=now,
    )


async def managed_stores(
    session: AsyncSession, *, telegram_id: int, role: Role
) -> frozenset[int] | None:
    """The stores someone manages: None for an owner (every store), the stores of their active
    manager rows for a manager (empty for anyone else)."""
    if role is Role.OWNER:
        return None
    if role is not Role.MANAGER:
        return frozenset()
    rows = await session.execute(
        select(col(Staff.store_id)).where(
            col(Staff.telegram_id) == telegram_id,
            col(Staff.role) == Role.MANAGER.value,
            col(Staff.revoked_at).is_(None),
        )
    )
    return frozenset(rows.scalars().all())
