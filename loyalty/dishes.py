"""New dishes: a manager adds one (`/newdish`), and the invitations to taste it are planned per
tier by the scheduler (scheduler/campaign_jobs.plan_new_dishes), preferring members whose taste
matches the dish's tags."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, not_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from loyalty.audiences import tags_column_value, tags_of
from loyalty.errors import Problem
from loyalty.policy import Policy
from models import queries
from models.tables import Campaign, Dish, Member

KIND = "new_dish"
MAX_NAME, MAX_DESCRIPTION = 64, 900
"""The description leaves room, under Telegram's 1024-character caption, for the invitation's
own words around it."""


class DishProblem(Problem):
    """name_empty, name_too_long, description_too_long, unknown_tag."""


@dataclass(frozen=True, slots=True)
class DishView:
    id: int
    name: str
    description: str
    photo: str | None
    tags: tuple[str, ...]


def _view(dish: Dish) -> DishView:
    assert dish.id is not None
    return DishView(dish.id, dish.name, dish.description, dish.photo, tags_of(dish.tags))


def check_name(name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise DishProblem("name_empty")
    if len(name) > MAX_NAME:
        raise DishProblem("name_too_long")
    return name


def check_description(description: str) -> str:
    description = description.strip()
    if len(description) > MAX_DESCRIPTION:
        raise DishProblem("description_too_long")
    return description


async def add_dish(
    session: AsyncSession,
    *,
    store_id: int,
    name: str,
    description: str,
    photo: str | None,
    tags: Sequence[str],
    created_by: int,
    policy: Policy,
    now: datetime,
) -> DishView:
    """Save the dish; the new-dish job plans its invitations on its next run."""
    unknown = [t for t in tags if t not in policy.taste_tags]
    if unknown:
        raise DishProblem("unknown_tag")
    dish = Dish(
        store_id=store_id,
        name=check_name(name),
        description=check_description(description),
        photo=photo,
        tags=tags_column_value(tags),
        created_at=now,
        created_by=created_by,
    )
    session.add(dish)
    await session.flush()
    assert dish.id is not None
    await queries.add_audit(
        session,
        actor_telegram_id=created_by,
        action="dish.add",
        detail=f"dish={dish.id} {dish.name}",
        now=now,
    )
    return _view(dish)


def period_of(dish_id: int) -> str:
    return f"dish-{dish_id}"


async def awaiting_invitations(session: AsyncSession) -> list[DishView]:
    """Dishes whose invitations are not planned yet (no campaign for them), oldest first."""
    planned = exists().where(col(Campaign.kind) == KIND, col(Campaign.dish_id) == col(Dish.id))
    rows = await session.execute(select(Dish).where(not_(planned)).order_by(col(Dish.id)))
    return [_view(d) for d in rows.scalars().all()]


async def invitees(
    session: AsyncSession, *, dish: DishView
) -> tuple[dict[int, tuple[str, ...]], list[int]]:
    """Who is invited: ({member: the dish's tags they like}, then members who did not say).
    Members who told us their taste and share none of the dish's tags are left out (a
    vegetarian is not invited to a seafood dish)."""
    alive = col(Member.erased_at).is_(None)
    if not dish.tags:
        rows = await session.execute(select(col(Member.id)).where(alive).order_by(col(Member.id)))
        return {}, [i for i in rows.scalars().all() if i is not None]
    matches = or_(*(col(Member.taste_tags).like(f"%,{tag},%") for tag in dish.tags))
    first = await session.execute(
        select(col(Member.id), col(Member.taste_tags))
        .where(alive, matches)
        .order_by(col(Member.id))
    )
    then = await session.execute(
        select(col(Member.id))
        .where(and_(alive, col(Member.taste_tags) == ""))
        .order_by(col(Member.id))
    )
    liked = {
        member_id: tuple(t for t in dish.tags if t in tags_of(tags))
        for member_id, tags in first.all()
        if member_id is not None
    }
    return liked, [i for i in then.scalars().all() if i is not None]
