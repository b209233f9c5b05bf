"""The composition root's long-lived services: settings, clock, database, i18n, default store."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram.utils.i18n import I18n
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.config import Settings
from loyalty.clock import Clock
from loyalty.policy import Policy, load_policy
from loyalty.qr import QRSigner
from loyalty.stores import StoreInfo, ensure_default_store
from models.db import create_engine, create_session_factory
from models.migrate import upgrade
from ui.locales import build_i18n


@dataclass(slots=True)
class Services:
    settings: Settings
    clock: Clock
    engine: AsyncEngine
    session_factory: async_sessionmaker[AsyncSession]
    i18n: I18n
    store: StoreInfo
    policy: Policy
    signer: QRSigner

    @classmethod
    async def start(cls, settings: Settings, clock: Clock) -> Services:
        """Open the database, upgrade its schema, make sure the default store exists."""
        engine = create_engine(settings.effective_database_url)
        try:
            await upgrade(engine)
            session_factory = create_session_factory(engine)
            async with session_factory() as session, session.begin():
                store = await ensure_default_store(
                    session,
                    name=settings.store_name,
                    timezone=settings.store_timezone,
                    currency=settings.store_currency,
                    now=clock.now(),
                )
        except BaseException:
            await engine.dispose()
            raise
        return cls(
            settings=settings,
            clock=clock,
            engine=engine,
            session_factory=session_factory,
            i18n=build_i18n(settings.default_locale),
            store=store,
            policy=load_policy(settings.policy_file),
            signer=QRSigner.from_secret(settings.secret()),
        )

    async def close(self) -> None:
        await self.engine.dispose()
