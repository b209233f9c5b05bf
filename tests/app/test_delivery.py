"""The outbox and the delivery worker against the emulator: who is messaged, exactly once, and
what happens on 429 and 403."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select, update
from sqlmodel import col

from bot.sandbox_run import SandboxRun
from loyalty import outbox
from loyalty.channels import Channel
from loyalty.outbox import Recipient
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment
from models.tables import Member, OutboxMessage, TelegramUser
from sandbox.client import SandboxClient

FIRST = 7_000_001


async def at_noon(run: SandboxRun) -> None:
    """Move the sandbox clock to the next 12:00 in the store's time zone (UTC): not quiet."""
    now = run.services.clock.now()
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
    if noon <= now:
        noon += timedelta(days=1)
    run.services.clock.advance(noon - now)  # type: ignore[attr-defined]


async def members(
    run: SandboxRun, client: SandboxClient, count: int, consent: list[bool | None]
) -> list[int]:
    """`count` diners who have used the bot before, each a member with the given consent."""
    services = run.services
    ids = []
    for i in range(count):
        telegram_id = FIRST + i
        await client.add_user(telegram_id, f"Guest{i}", started=True)
        async with services.session_factory() as session, session.begin():
            outcome = await record_payment(
                session,
                source=PaymentSource.POS,
                external_id=f"m{i}",
                store=StoreRef(id=services.store.id, timezone=services.store.timezone),
                amount=Decimal(30),
                currency="USD",
                payer=Payer(telegram_id=telegram_id, first_name=f"Guest{i}", channel=Channel.CHAT),
                policy=services.policy,
                now=services.clock.now(),
            )
            await session.execute(
                update(Member)
                .where(col(Member.id) == outcome.member_id)
                .values(marketing_consent=consent[i % len(consent)])
            )
        ids.append(outcome.member_id)
    return ids


async def broadcast(run: SandboxRun, ids: list[int], *, period: str, holdout: float) -> None:
    services = run.services

    async def render(person: Recipient, held_out: bool) -> tuple[str, int | None]:
        return f"Hello {person.name}, new dishes this week!", None

    async with services.session_factory() as session, session.begin():
        campaign = await outbox.ensure_campaign(
            session,
            kind="broadcast",
            period=period,
            holdout_share=holdout,
            now=services.clock.now(),
        )
        audience = await outbox.recipients(session, member_ids=ids)
        await outbox.plan(
            session,
            campaign=campaign,
            audience=audience,
            render=render,
            policy=services.policy,
            now=services.clock.now(),
        )


async def drain(run: SandboxRun, *, step: timedelta = timedelta(seconds=2)) -> None:
    """Until nothing is pending or being sent (the app's own worker runs alongside)."""
    for _ in range(200):
        await run.worker.run_until_idle()
        async with run.services.session_factory() as session:
            left = await outbox.counts_by_status(session)
        if not left.get("pending") and not left.get("sending"):
            return
        await asyncio.sleep(0.05)
        run.services.clock.advance(step)  # type: ignore[attr-defined]
    raise AssertionError(f"the outbox did not drain: {left}")


async def greetings(client: SandboxClient, telegram_id: int) -> int:
    return sum("new dishes" in (m.get("text") or "") for m in await client.inbox(telegram_id))


async def test_only_eligible_members_are_messaged_once_and_blocked_ones_are_not_retried(
    run: SandboxRun, client: SandboxClient
) -> None:
    await run.worker.stop()  # this test drains the outbox itself, at known moments
    await at_noon(run)
    ids = await members(run, client, 40, [True, True, True, None, False])
    blocked = [FIRST + 0, FIRST + 1]
    await client.block(blocked[0])
    for _ in range(100):  # Telegram tells the bot (my_chat_member): it is remembered
        async with run.services.session_factory() as session:
            user = await session.scalar(
                select(TelegramUser).where(col(TelegramUser.telegram_id) == blocked[0])
            )
        if user is not None and user.blocked_at is not None:
            break
        await asyncio.sleep(0.05)
    await broadcast(run, ids, period="p1", holdout=0.2)
    await broadcast(run, ids, period="p1", holdout=0.2)  # planned twice: nothing more
    await client.block(blocked[1])  # after the planning: found out when sending
    await drain(run)

    async with run.services.session_factory() as session:
        rows = (await session.execute(select(OutboxMessage))).scalars().all()
        users = {u.telegram_id: u for u in (await session.execute(select(TelegramUser))).scalars()}
    by_person = {row.telegram_id: row for row in rows}
    # opt-in only (3 of 5), no duplicates; the first blocked person was known to have blocked
    # the bot when the campaign was planned (skipped), the second was not (tried once)
    assert len(rows) == len(by_person) == 23
    holdout = {t for t, row in by_person.items() if row.status == "holdout"}
    assert 0 < len(holdout) < 12
    for i in range(40):
        telegram_id = FIRST + i
        got = await greetings(client, telegram_id)
        row = by_person.get(telegram_id)
        if row is None:  # no consent (None in opt-in mode, or False), or known to have blocked
            assert i % 5 in (3, 4) or telegram_id == blocked[0]
            assert got == 0
        elif telegram_id in holdout:
            assert got == 0
        elif telegram_id in blocked:
            assert got == 0
            assert (row.status, row.attempts) == ("unreachable", 1)
            assert users[telegram_id].blocked_at is not None
        else:
            assert got == 1, telegram_id
            assert row.status == "sent"
            assert row.telegram_message_id is not None
    stats = await client.stats()
    assert stats["status_403"] == 1  # one try: never retried
    assert users[blocked[0]].blocked_at is not None


async def test_flood_limits_pause_and_everything_arrives_once(
    run: SandboxRun, client: SandboxClient
) -> None:
    await at_noon(run)
    ids = await members(run, client, 60, [True])
    # Telegram allows fewer messages than our budget assumes: 429s must pause, not lose or repeat
    await client.request("POST", "/sandbox/limits", {"global_per_second": 10})
    await broadcast(run, ids, period="flood", holdout=0.0)
    await drain(run)
    async with run.services.session_factory() as session:
        assert await outbox.counts_by_status(session) == {"sent": 60}
    stats = await client.stats()
    assert stats["status_429"] > 0
    for i in range(60):
        assert await greetings(client, FIRST + i) == 1


async def test_quiet_hours_defer_and_a_lapsed_lease_is_taken_again(
    run: SandboxRun, client: SandboxClient
) -> None:
    await run.worker.stop()  # this test plays the workers itself
    await at_noon(run)
    ids = await members(run, client, 3, [True])
    run.services.clock.advance(timedelta(hours=10))  # type: ignore[attr-defined]  # 22:00
    await broadcast(run, ids, period="night", holdout=0.0)
    assert await run.worker.run_until_idle() == 0  # deferred to 09:00, not dropped
    run.services.clock.advance(timedelta(hours=11))  # type: ignore[attr-defined]  # 09:00
    # a worker claims the batch and dies before sending anything
    async with run.services.session_factory() as session, session.begin():
        claimed = await outbox.claim(session, now=run.services.clock.now(), limit=10)
    assert len(claimed) == 3
    assert await run.worker.run_until_idle() == 0  # leased: nobody else takes them
    run.services.clock.advance(outbox.LEASE + timedelta(seconds=1))  # type: ignore[attr-defined]
    assert await run.worker.run_until_idle() == 3
    for telegram_id in (FIRST, FIRST + 1, FIRST + 2):
        assert await greetings(client, telegram_id) == 1


async def test_one_message_failing_unexpectedly_does_not_resend_the_rest(
    run: SandboxRun, client: SandboxClient
) -> None:
    """A row the worker cannot even build (broken buttons) fails alone: the other messages of
    its batch are marked sent once, and it ends as failed after its attempts, not forever."""
    services = run.services
    people = [FIRST + i for i in range(3)]
    for person in people:
        await client.add_user(person, "Guest", started=True)
    async with services.session_factory() as session, session.begin():
        for i, person in enumerate(people):
            await outbox.enqueue_one(
                session,
                telegram_id=person,
                text=f"note {i}",
                dedupe=f"note:{i}",
                now=services.clock.now(),
                buttons="not json" if i == 1 else None,
            )
    for _ in range(outbox.MAX_ATTEMPTS + 2):
        await drain(run, step=timedelta(minutes=10))
        run.services.clock.advance(timedelta(minutes=10))  # type: ignore[attr-defined]
    got = [[m["text"] for m in await client.inbox(p)] for p in people]
    assert got == [["note 0"], [], ["note 2"]]
    async with services.session_factory() as session:
        rows = (
            (await session.execute(select(OutboxMessage).order_by(col(OutboxMessage.id))))
            .scalars()
            .all()
        )
    assert [(r.status, r.attempts) for r in rows] == [
        ("sent", 0),
        ("failed", outbox.MAX_ATTEMPTS),
        ("sent", 0),
    ]
