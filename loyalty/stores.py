"""Stores: every deployment has at least the default one from the configuration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from models import queries
from models.cache import Remembered
from models.tables import Store


@dataclass(frozen=True, slots=True)
class StoreInfo:
    """What the bot says and computes with. Fixed once the store exists (remembered per process:
    see models.cache)."""

    id: int
    name: str
    timezone: str
    currency: str


_stores: Remembered[int, StoreInfo] = Remembered()
_table_ids: Remembered[tuple[int, int], int] = Remembered()
_table_numbers: Remembered[int, int] = Remembered()


async def store_info(session: AsyncSession, *, store_id: int) -> StoreInfo | None:
    """A store's name, timezone and currency; read once per process."""
    info = _stores.get(session, store_id)
    if info is not None:
        return info
    store = await queries.get_store(session, store_id=store_id)
    if store is None or store.id is None:
        return None
    return _stores.put(
        session,
        store_id,
        StoreInfo(id=store.id, name=store.name, timezone=store.timezone, currency=store.currency),
    )


async def table_id(session: AsyncSession, *, store_id: int, number: int) -> int | None:
    """The id of a store's table by its number (tables are never renumbered or deleted)."""
    known = _table_ids.get(session, (store_id, number))
    if known is not None:
        return known
    table = await queries.get_table(session, store_id=store_id, number=number)
    if table is None or table.id is None:
        return None
    _table_numbers.put(session, table.id, table.number)
    return _table_ids.put(session, (store_id, number), table.id)


async def table_number(session: AsyncSession, *, table_id: int) -> int | None:
    """A table's number by its id."""
    known = _table_numbers.get(session, table_id)
    if known is not None:
        return known
    table = await queries.get_table_by_id(session, table_id=table_id)
    if table is None:
        return None
    return _table_numbers.put(session, table_id, table.number)


async def ensure_default_store(
    session: AsyncSession, *, name: str, timezone: str, currency: str, now: datetime
) -> StoreInfo:
    """Create the first store from the configuration if there is none yet (idempotent)."""
    store = await queries.first_store(session)
    if store is None:
        store = await queries.add_store(
            session, name=name, timezone=timezone, currency=currency, now=now
        )
    assert store.id is not None
    return StoreInfo(id=store.id, name=store.name, timezone=store.timezone, currency=store.currency)


async def all_stores(session: AsyncSession) -> list[StoreInfo]:
    """Every store of the chain, oldest first."""
    rows = await session.execute(select(Store).order_by(col(Store.id)))
    return [
        StoreInfo(id=s.id, name=s.name, timezone=s.timezone, currency=s.currency)
        for s in rows.scalars().all()
        if s.id is not None
    ]
