"""Hiring staff in the app tests: the person opens the bot, the owner's grant makes them staff."""

from __future__ import annotations

from decimal import Decimal

from bot.sandbox_run import SANDBOX_OWNER_ID, SandboxRun
from loyalty import roles
from loyalty.channels import Channel
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment
from models import queries
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


async def member_of_another_store(run: SandboxRun, telegram_id: int, name: str) -> int:
    """A second store, "Other Bar", that only the owner manages, where `name` paid once (a POS
    payment of $9.90): their member id."""
    services = run.services
    async with services.session_factory() as session, session.begin():
        other = await queries.add_store(
            session, name="Other Bar", timezone="UTC", currency="USD", now=services.clock.now()
        )
        assert other.id is not None
        outcome = await record_payment(
            session,
            source=PaymentSource.POS,
            external_id="elsewhere",
            store=StoreRef(id=other.id, timezone="UTC"),
            amount=Decimal("9.90"),
            currency="USD",
            payer=Payer(telegram_id=telegram_id, first_name=name, channel=Channel.CHAT),
            policy=services.policy,
            now=services.clock.now(),
        )
    return outcome.member_id
