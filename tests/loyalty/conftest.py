"""The domain tests' database: a migrated database of their own, and the store they sell in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from loyalty.payments import StoreRef
from loyalty.policy import Policy, load_policy
from loyalty.stores import ensure_default_store
from models.db import create_engine, create_session_factory
from models.migrate import upgrade

OPENED = datetime(2026, 11, 23, 4, 0, tzinfo=UTC)  # Monday, 12:00 in Shanghai


@pytest.fixture
async def factory(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url)
    await upgrade(engine)
    yield create_session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def store(factory: async_sessionmaker[AsyncSession]) -> StoreRef:
    """Noodle Bar, Asia/Shanghai, CNY."""
    async with factory() as session, session.begin():
        info = await ensure_default_store(
            session, name="Noodle Bar", timezone="Asia/Shanghai", currency="CNY", now=OPENED
        )
    return StoreRef(id=info.id, timezone=info.timezone)


@pytest.fixture
def policy() -> Policy:
    """The default policy: the frequency preset."""
    return load_policy()
