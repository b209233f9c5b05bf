"""Hiring staff in the app tests: the person opens the bot, the owner's grant makes them staff."""

from __future__ import annotations

from bot.sandbox_run import SANDBOX_OWNER_ID, SandboxRun
from loyalty import roles
from models.tables import Role
from sandbox.client import SandboxClient


async def hire(
    run: SandboxRun, client: SandboxClient, telegram_id: int, name: str, role: Role
) -> None:
    """`name` becomes `role` of the sandbox's store, granted by the owner."""
    await client.add_user(telegram_id, name, started=True)
    services = run.services
    async with services.session_factory() as session, session.begin():
        await roles.grant(
            session,
            telegram_id=telegram_id,
            store_id=services.store.id,
            role=role,
            display_name=name,
            granted_by=SANDBOX_OWNER_ID,
            now=services.clock.now(),
        )
