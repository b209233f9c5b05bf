"""Every staff command, used by someone who is not (or no longer) allowed: the same refusal, and
nothing written. Owners, managers and cashiers each get exactly their own tools."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from bot.sandbox_run import SANDBOX_CASHIER_ID, SANDBOX_OWNER_ID, SandboxRun
from loyalty import staff
from loyalty.qr import CardPayload, deep_link
from models.tables import (
    AuditLog,
    Campaign,
    CodeAttempt,
    Coupon,
    Dish,
    Payment,
    Role,
    Staff,
    StaffInvite,
)
from sandbox.client import SandboxClient
from tests.app.staffing import hire
from tests.app.test_member import press
from tests.app.test_wallet import enrol

REFUSED = "Sorry, this is only for the restaurant's staff."
DINER, FORMER_CASHIER, MANAGER = 7_300_001, 7_300_002, 7_300_003

CASHIER_COMMANDS = ["/bill 12.50", "/redeem 123456"]
MANAGER_COMMANDS = [
    "/broadcast",
    "/newdish",
    "/stats",
    "/campaigns",
    "/feedback",
    "/export",
    "/staff",
    "/gift 1 ten_off",
    "/member 1",
    "/grade 1 A",
    "/tag 1 student",
    "/refund 1",
]
OWNER_COMMANDS = ["/audit"]


async def _hire_and_fire(run: SandboxRun, client: SandboxClient) -> None:
    """A cashier who was removed, and a manager who still is one."""
    services = run.services
    await client.add_user(DINER, "Dana", started=True)
    await hire(run, client, FORMER_CASHIER, "Carl", Role.CASHIER)
    await hire(run, client, MANAGER, "Mia", Role.MANAGER)
    async with services.session_factory() as session, session.begin():
        carl = await session.scalar(
            select(col(Staff.id)).where(col(Staff.telegram_id) == FORMER_CASHIER)
        )
        assert carl is not None
        await staff.revoke(
            session,
            staff_id=carl,
            by_telegram_id=SANDBOX_OWNER_ID,
            by_role=Role.OWNER,
            now=services.clock.now(),
        )


async def _written(run: SandboxRun) -> dict[str, int]:
    counts = {}
    async with run.services.session_factory() as session:
        for table in (AuditLog, Campaign, Coupon, Dish, Payment):
            counts[table.__name__] = int(
                await session.scalar(select(func.count()).select_from(table)) or 0
            )
    return counts


@pytest.mark.parametrize(
    ("who", "commands"),
    [
        (DINER, CASHIER_COMMANDS + MANAGER_COMMANDS + OWNER_COMMANDS),
        (FORMER_CASHIER, CASHIER_COMMANDS + MANAGER_COMMANDS + OWNER_COMMANDS),
        (SANDBOX_CASHIER_ID, MANAGER_COMMANDS + OWNER_COMMANDS),
        (MANAGER, OWNER_COMMANDS),
    ],
    ids=["diner", "removed cashier", "cashier", "manager"],
)
async def test_staff_commands_refuse_whoever_is_not_allowed(
    run: SandboxRun, client: SandboxClient, who: int, commands: list[str]
) -> None:
    await _hire_and_fire(run, client)
    before = await _written(run)
    for command in commands:
        reply = await client.say(who, command)
        assert reply["text"] == REFUSED, (command, reply["text"])
        assert not reply.get("reply_markup"), command
    # the refusals were the only replies, and nothing was written
    assert [m["text"] for m in await client.inbox(who)].count(REFUSED) == len(commands)
    assert await _written(run) == before


async def test_each_role_gets_its_own_tools(run: SandboxRun, client: SandboxClient) -> None:
    await _hire_and_fire(run, client)
    manager = await client.say(MANAGER, "/help")
    assert "/broadcast" in manager["text"]
    assert "/audit" not in manager["text"]
    cashier = await client.say(SANDBOX_CASHIER_ID, "/help")
    assert "/redeem" in cashier["text"]
    assert "/broadcast" not in cashier["text"]
    diner = await client.say(DINER, "/help")
    assert "/redeem" not in diner["text"]
    owner = await client.say(SANDBOX_OWNER_ID, "/help")
    assert "/audit" in owner["text"]
    for command in MANAGER_COMMANDS[:6]:
        reply = await client.say(MANAGER, command)
        assert reply["text"] != REFUSED, command


async def test_old_buttons_do_nothing_once_their_holder_is_removed(
    run: SandboxRun, client: SandboxClient
) -> None:
    """A cashier mid-way through recording a bill and a manager mid-way through inviting and
    adding a dish are removed; their buttons, pressed afterwards, are refused."""
    services = run.services
    await _hire_and_fire(run, client)  # Carl is gone already; hire a cashier who is still here
    cashier = 7_300_004
    await hire(run, client, cashier, "Cleo", Role.CASHIER)
    dana = await enrol(run, DINER, "Dana")

    # the cashier scans Dana's card and types the bill: the confirm button is waiting
    card = deep_link(run.emulator.username, services.signer.sign(CardPayload(dana)))
    before = len(await client.inbox(cashier))
    await client.open(cashier, card)
    await client.reply_after(cashier, before)
    confirm = await client.say(cashier, "20.00")
    assert "Record" in str(confirm["reply_markup"])
    # the manager opens /staff (invite buttons) and is choosing a new dish's tastes
    team = await client.say(MANAGER, "/staff")
    await client.say(MANAGER, "/newdish")
    await client.say(MANAGER, "Dumplings")
    await client.say(MANAGER, "/skip")
    tags = await client.say(MANAGER, "/skip")
    assert tags["text"].startswith("Which tastes does it have?")

    owner_view = await client.say(SANDBOX_OWNER_ID, "/staff")
    for name in ("Cleo", "Mia"):
        await press(client, SANDBOX_OWNER_ID, owner_view, f"Remove {name}")
    written = await _written(run)

    assert await press(client, cashier, confirm, "Record") == REFUSED
    for label in ("Invite a cashier",):
        assert await press(client, MANAGER, team, label) == REFUSED
    for label in ("Spicy", "Save and invite members"):
        assert await press(client, MANAGER, tags, label) == REFUSED
    assert await _written(run) == written
    async with services.session_factory() as session:
        invites = await session.scalar(select(func.count()).select_from(StaffInvite))
    assert invites == 0


async def test_slips_in_staff_commands_get_usage_and_write_nothing(
    run: SandboxRun, client: SandboxClient
) -> None:
    for typed in ("/gift ² ten_off", "/gift 99999999999 ten_off"):
        reply = await client.say(SANDBOX_OWNER_ID, typed)
        assert reply["text"].startswith("Usage: /gift <member number> <coupon>"), typed
    reply = await client.say(SANDBOX_OWNER_ID, "/refund ²")
    assert reply["text"].startswith("Usage: /refund")
    reply = await client.say(SANDBOX_CASHIER_ID, "/redeem")
    assert reply["text"] == "Usage: /redeem 123456"
    async with run.services.session_factory() as session:
        attempts = await session.scalar(select(func.count()).select_from(CodeAttempt))
    assert attempts == 0  # a missing code is not a wrong code: the rate limit is untouched
