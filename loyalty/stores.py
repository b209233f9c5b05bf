"""Stores: every deployment has at least the default one from the configuration."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from models import queries


@dataclass(frozen=True, slots=True)
class StoreInfo:
    id: int
    name: str
    timezone: str
    currency: str


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
