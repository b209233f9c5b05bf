"""Staff invites: an owner or manager hands out a signed, single-use, expiring link."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loyalty import roles
from loyalty.errors import DomainError, NotAllowed, Problem
from models import queries
from models.tables import Role, Staff, StaffInvite

INVITE_TTL = timedelta(hours=24)


class InviteProblem(Problem):
    """A staff invite cannot be used: unknown, expired, used (by someone else), or revoked (used
    by this person, whose role was taken back since)."""


class StaffGone(DomainError):
    """The staff row was removed already (a second tap on Remove, a stale list)."""

    def __init__(self, staff_id: int) -> None:
        super().__init__(f"staff {staff_id} is not on the staff")


@dataclass(frozen=True, slots=True)
class Invite:
    id: int
    role: Role
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Joined:
    role: Role
    store_name: str
    invited_by: int


def may_invite(inviter: Role, role: Role) -> bool:
    """Owners invite managers and cashiers; managers invite cashiers."""
    if role is Role.MANAGER:
        return inviter is Role.OWNER
    if role is Role.CASHIER:
        return inviter.at_least(Role.MANAGER)
    return False


async def create_invite(
    session: AsyncSession,
    *,
    store_id: int,
    role: Role,
    inviter_telegram_id: int,
    inviter_role: Role,
    now: datetime,
) -> Invite:
    if not may_invite(inviter_role, role):
        raise NotAllowed(f"{inviter_role} cannot invite {role}")
    invite = StaffInvite(
        store_id=store_id,
        role=role.value,
        created_by=inviter_telegram_id,
        created_at=now,
        expires_at=now + INVITE_TTL,
    )
    session.add(invite)
    await session.flush()
    assert invite.id is not None
    await queries.add_audit(
        session,
        actor_telegram_id=inviter_telegram_id,
        action="staff.invite",
        detail=f"invite={invite.id} role={role.value} store={store_id}",
        now=now,
    )
    return Invite(id=invite.id, role=role, expires_at=invite.expires_at)


async def accept_invite(
    session: AsyncSession, *, invite_id: int, telegram_id: int, display_name: str, now: datetime
) -> Joined:
    invite = await session.get(StaffInvite, invite_id)
    if invite is None:
        raise InviteProblem("unknown")
    if invite.used_by is not None:
        if invite.used_by == telegram_id:  # opened again: say what they are now, truthfully
            return await _rejoined(session, invite=invite, telegram_id=telegram_id)
        raise InviteProblem("used")
    if now >= invite.expires_at:
        raise InviteProblem("expired")
    claimed = await session.execute(
        update(StaffInvite)
        .where(col(StaffInvite.id) == invite_id, col(StaffInvite.used_by).is_(None))
        .values(used_by=telegram_id, used_at=now)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise InviteProblem("used")
    role = Role(invite.role)
    await roles.grant(
        session,
        telegram_id=telegram_id,
        store_id=invite.store_id,
        role=role,
        display_name=display_name,
        granted_by=invite.created_by,
        now=now,
    )
    store = await queries.get_store(session, store_id=invite.store_id)
    return Joined(role=role, store_name=store.name if store else "", invited_by=invite.created_by)


async def _rejoined(session: AsyncSession, *, invite: StaffInvite, telegram_id: int) -> Joined:
    """The person who used this invitation opens it again: their role at its store now (it may
    have changed since); InviteProblem("revoked") when they were removed since: the invitation
    grants nothing a second time."""
    current = [
        row
        for row in await queries.active_staff(session, telegram_id=telegram_id)
        if row.store_id == invite.store_id
    ]
    if not current:
        raise InviteProblem("revoked")
    store = await queries.get_store(session, store_id=invite.store_id)
    return Joined(Role(current[0].role), store.name if store else "", invite.created_by)


@dataclass(frozen=True, slots=True)
class StaffMember:
    id: int
    telegram_id: int
    role: Role
    display_name: str
    since: datetime


def _member(staff: Staff) -> StaffMember:
    assert staff.id is not None
    return StaffMember(
        id=staff.id,
        telegram_id=staff.telegram_id,
        role=Role(staff.role),
        display_name=staff.display_name,
        since=staff.created_at,
    )


async def list_staff(session: AsyncSession, *, store_id: int) -> list[StaffMember]:
    """The store's current cashiers and managers, managers first."""
    rows = await session.execute(
        select(Staff)
        .where(col(Staff.store_id) == store_id, col(Staff.revoked_at).is_(None))
        .order_by(col(Staff.role).desc(), col(Staff.created_at))
    )
    return [_member(s) for s in rows.scalars().all()]


async def revoke(
    session: AsyncSession,
    *,
    staff_id: int,
    by_telegram_id: int,
    by_role: Role,
    now: datetime,
) -> StaffMember:
    """Take someone's role away (owners: managers and cashiers; managers: cashiers). From the
    next update on they are a diner: every staff command and button checks the role anew."""
    staff = await session.get(Staff, staff_id)
    if staff is None or staff.revoked_at is not None:
        raise StaffGone(staff_id)
    reach = await roles.managed_stores(session, telegram_id=by_telegram_id, role=by_role)
    within = reach is None or staff.store_id in reach
    if not may_invite(by_role, Role(staff.role)) or not within:
        raise NotAllowed(f"{by_role} cannot remove {staff.role} of store {staff.store_id}")
    done = await session.execute(
        update(Staff)
        .where(col(Staff.id) == staff_id, col(Staff.revoked_at).is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise StaffGone(staff_id)
    await queries.add_audit(
        session,
        actor_telegram_id=by_telegram_id,
        action="staff.revoke",
        detail=f"{staff.telegram_id} {staff.role} store={staff.store_id}",
        now=now,
    )
    return _member(staff)
