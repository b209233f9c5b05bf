"""Segments: which members a manager's broadcast is for.

A segment combines dimensions with AND and the values of one dimension with OR: "tier loyal or
regular, speaking Chinese (either script), who like spicy food". An empty dimension does not
filter; an empty segment is every member. Everything is decided in SQL over the member table
(with the person's language from their Telegram row), a page of member ids at a time, so a
segment of 100,000 members never comes to Python at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import col

from loyalty.lifecycle import Stage, Turn
from loyalty.policy import Policy
from loyalty.refresh import stage_case, turn_case
from models.tables import Member, Store, TelegramUser

LOCALES = ("en", "zh_Hans", "zh_Hant")
TURNS = (Turn.RISING.value, Turn.COOLING.value)
DIMENSIONS = ("tiers", "stages", "turns", "languages", "tags", "labels", "stores")


class SegmentProblem(ValueError):
    """A segment that names a tier, stage, language or tag that does not exist."""


@dataclass(frozen=True, slots=True)
class Segment:
    tiers: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    stores: tuple[int, ...] = ()
    """Store ids (a manager's broadcast is kept to the stores they manage)."""
    turns: tuple[str, ...] = ()
    """Turning points: "rising" (coming more often), "cooling" (coming less often)."""
    labels: tuple[str, ...] = ()
    """The policy's labels a manager gave members (neighbour, student…: loyalty.grades)."""

    @property
    def is_everyone(self) -> bool:
        return not (
            self.tiers
            or self.stages
            or self.turns
            or self.languages
            or self.tags
            or self.labels
            or self.stores
        )

    def within(self, stores: frozenset[int] | None) -> Segment:
        """Kept to `stores` (None: every store, an owner's reach)."""
        if stores is None:
            return self
        chosen = [s for s in self.stores if s in stores] or sorted(stores)
        return Segment(**{**self.as_dict(), "stores": tuple(chosen)})

    def toggled(self, dimension: str, value: str) -> Segment:
        """This segment with `value` added to (or removed from) one dimension."""
        if dimension not in DIMENSIONS:
            raise SegmentProblem(f"no dimension {dimension!r}")
        values: tuple[str, ...] = tuple(str(v) for v in getattr(self, dimension))
        changed = tuple(v for v in values if v != value) if value in values else (*values, value)
        if dimension == "stores":
            if not all(v.isdigit() for v in changed):
                raise SegmentProblem(f"no store {value!r}")
            return Segment(**{**self.as_dict(), "stores": tuple(sorted(int(v) for v in changed))})
        return Segment(**{**self.as_dict(), dimension: tuple(sorted(changed))})

    def as_dict(self) -> dict[str, Any]:
        return {
            "tiers": self.tiers,
            "stages": self.stages,
            "turns": self.turns,
            "languages": self.languages,
            "tags": self.tags,
            "labels": self.labels,
            "stores": self.stores,
        }

    def to_json(self) -> str:
        data = {k: list(v) if isinstance(v, tuple) else v for k, v in self.as_dict().items()}
        return json.dumps({k: v for k, v in data.items() if v}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Segment:
        data = json.loads(text) if text else {}
        return cls(
            tiers=tuple(data.get("tiers", ())),
            stages=tuple(data.get("stages", ())),
            turns=tuple(data.get("turns", ())),
            languages=tuple(data.get("languages", ())),
            tags=tuple(data.get("tags", ())),
            labels=tuple(data.get("labels", ())),
            stores=tuple(int(s) for s in data.get("stores", ())),
        )

    def check(self, policy: Policy) -> None:
        """Every value names something that exists (a segment from a stale button may not)."""
        known: dict[str, Sequence[str]] = {
            "tiers": policy.tiers.keys,
            "stages": [s.value for s in Stage],
            "turns": TURNS,
            "languages": LOCALES,
            "tags": list(policy.taste_tags),
            "labels": list(policy.labels),
        }
        for dimension, allowed in known.items():
            for value in getattr(self, dimension):
                if value not in allowed:
                    raise SegmentProblem(f"{dimension}: {value!r}")


@dataclass(frozen=True, slots=True)
class Choices:
    """What a manager can pick from (keys; the handler names them in the reader's language)."""

    tiers: tuple[str, ...]
    stages: tuple[str, ...] = field(default=tuple(s.value for s in Stage))
    turns: tuple[str, ...] = field(default=TURNS)
    languages: tuple[str, ...] = LOCALES
    tags: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    stores: tuple[tuple[int, str], ...] = ()
    """(id, name) of the stores to pick from: only when there is more than one within reach."""


async def choices(
    session: AsyncSession, *, policy: Policy, stores: frozenset[int] | None
) -> Choices:
    """What someone who reaches `stores` (None: all) can pick from."""
    rows = await session.execute(select(col(Store.id), col(Store.name)).order_by(col(Store.id)))
    reach = [
        (i, n) for i, n in rows.tuples().all() if i is not None and (stores is None or i in stores)
    ]
    return Choices(
        tiers=tuple(policy.tiers.keys),
        tags=tuple(policy.taste_tags),
        labels=tuple(policy.labels),
        stores=tuple(reach) if len(reach) > 1 else (),
    )


def tags_column_value(tags: Sequence[str]) -> str:
    """Tags as stored on a member or a dish: ",a,b," (so one tag matches LIKE '%,a,%')."""
    return f",{','.join(sorted(set(tags)))}," if tags else ""


def tags_of(stored: str) -> tuple[str, ...]:
    return tuple(t for t in stored.split(",") if t)


def locale_expr(default_locale: str) -> ColumnElement[str]:
    """The person's locale as SQL, as ui.locales.locale_from_language_code decides it: the one
    they chose, else their Telegram language (Traditional Chinese regions, other Chinese,
    English), else the deployment's default."""
    code = func.lower(func.replace(func.coalesce(col(TelegramUser.language_code), ""), "_", "-"))
    traditional = or_(
        code.in_(("zh-hant", "zh-tw", "zh-hk", "zh-mo")),
        code.like("zh-hant%"),
        code.like("zh-tw%"),
        code.like("zh-hk%"),
    )
    from_code = case(
        (traditional, "zh_Hant"),
        (code.like("zh%"), "zh_Hans"),
        (or_(code == "en", code.like("en-%")), "en"),
        else_=literal(default_locale),
    )
    return func.coalesce(col(TelegramUser.locale), from_code)


def conditions(
    segment: Segment, *, policy: Policy, now: datetime, default_locale: str
) -> list[ColumnElement[bool]]:
    """The segment as WHERE conditions over Member joined with TelegramUser."""
    where: list[ColumnElement[bool]] = [col(Member.erased_at).is_(None)]
    if segment.tiers:
        where.append(col(Member.tier).in_(segment.tiers))
    if segment.stages:
        where.append(stage_case(policy, now=now).in_(segment.stages))
    if segment.turns:
        where.append(turn_case(now=now).in_(segment.turns))
    if segment.languages:
        where.append(locale_expr(default_locale).in_(segment.languages))
    if segment.tags:
        where.append(or_(*(col(Member.taste_tags).like(f"%,{tag},%") for tag in segment.tags)))
    if segment.labels:
        where.append(or_(*(col(Member.labels).like(f"%,{label},%") for label in segment.labels)))
    if segment.stores:
        where.append(col(Member.store_id).in_(segment.stores))
    return where


async def member_ids(
    session: AsyncSession,
    *,
    segment: Segment,
    policy: Policy,
    now: datetime,
    default_locale: str,
    after_id: int = 0,
    limit: int = 1000,
) -> list[int]:
    """The next page of the segment's member ids (ascending, after `after_id`)."""
    rows = await session.execute(
        select(col(Member.id))
        .join(TelegramUser, col(TelegramUser.id) == col(Member.telegram_user_id))
        .where(
            and_(
                col(Member.id) > after_id,
                *conditions(segment, policy=policy, now=now, default_locale=default_locale),
            )
        )
        .order_by(col(Member.id))
        .limit(limit)
    )
    return [i for i in rows.scalars().all() if i is not None]


async def count(
    session: AsyncSession, *, segment: Segment, policy: Policy, now: datetime, default_locale: str
) -> int:
    """How many members the segment holds (before consent, caps and quiet hours)."""
    found = await session.scalar(
        select(func.count())
        .select_from(Member)
        .join(TelegramUser, col(TelegramUser.id) == col(Member.telegram_user_id))
        .where(*conditions(segment, policy=policy, now=now, default_locale=default_locale))
    )
    return int(found or 0)
