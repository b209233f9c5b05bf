"""Seed 001's grades through the emulator and the real dispatcher: a manager grades a member by
hand (`/grade`, or a button on `/member`) with a reason and an end date, labels them (`/tag`),
and the nightly refresh leaves the grade alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.config import Settings
from bot.sandbox_run import SandboxRun, sandbox
from loyalty import refresh
from loyalty.channels import Channel
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment
from models.tables import AuditLog, Member, Role
from sandbox.client import Message, SandboxClient, button_data
from tests.app.staffing import hire

MANAGER = 1_000_301
DANA = 1_000_302
REFUSED = "Sorry, this is only for the restaurant's staff."


@pytest.fixture
async def grades_run(sandbox_settings: Settings, tmp_path: Path) -> AsyncIterator[SandboxRun]:
    """A sandbox on the "grades" preset (seed 001: A / B / C / potential)."""
    file = tmp_path / "grades.toml"
    file.write_text('preset = "grades"\n')
    settings = sandbox_settings.model_copy(update={"policy_file": file})
    async with sandbox(settings, port=0) as running:
        yield running


@pytest.fixture
async def grades_client(grades_run: SandboxRun) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(grades_run.url) as sandbox_client:
        yield sandbox_client


async def pays(run: SandboxRun, telegram_id: int, name: str, ref: str, amount: int) -> int:
    """A payment at the counter, now: the member's id."""
    services = run.services
    async with services.session_factory() as session, session.begin():
        outcome = await record_payment(
            session,
            source=PaymentSource.POS,
            external_id=ref,
            store=StoreRef(id=services.store.id, timezone=services.store.timezone),
            amount=Decimal(amount),
            currency="USD",
            payer=Payer(telegram_id=telegram_id, first_name=name, channel=Channel.TABLE_QR),
            policy=services.policy,
            now=services.clock.now(),
        )
    return outcome.member_id


async def press(client: SandboxClient, user_id: int, message: Message, data: str) -> Any:
    body = {"message_id": message["message_id"], "data": data, "wait": 10}
    result = await client.request("POST", f"/sandbox/users/{user_id}/press", body)
    return dict(result["answer"] or {})


async def stored(run: SandboxRun, member_id: int) -> Member:
    async with run.services.session_factory() as session:
        member = await session.get(Member, member_id)
    assert member is not None
    return member


async def test_a_manager_grades_and_labels_a_member_and_the_refresh_leaves_it(
    grades_run: SandboxRun, grades_client: SandboxClient
) -> None:
    run, client = grades_run, grades_client
    services = run.services
    await client.add_user(DANA, "Dana", started=True)
    dana = await pays(run, DANA, "Dana", "d-1", 40)  # one small dinner: potential
    await hire(run, client, MANAGER, "Mia", Role.MANAGER)
    assert (await stored(run, dana)).tier == "potential"

    # a diner cannot grade anybody
    assert (await client.say(DANA, f'/grade {dana} A "me"'))["text"] == REFUSED

    # the neighbour who hosts banquets: A by hand until a day a month from now
    zone = ZoneInfo(services.store.timezone)
    last_day = (services.clock.now().astimezone(zone) + timedelta(days=30)).date()
    reply = await client.say(
        MANAGER, f'/grade {dana} a "neighbour, banquets" until {last_day.isoformat()}'
    )
    assert reply["text"].startswith(f"Member #{dana}: Grade: Gold (A), set by a manager until")
    assert reply["text"].endswith(": neighbour, banquets")
    member = await stored(run, dana)
    assert (member.tier, member.manual_tier, member.manual_tier_reason) == (
        "A",
        "A",
        "neighbour, banquets",
    )

    # a slip is told how, and changes nothing
    assert (await client.say(MANAGER, f"/grade {dana} Z"))["text"].startswith(
        "There is no such grade. Grades: A, B, C, potential"
    )
    assert (await client.say(MANAGER, "/grade twelve"))["text"].startswith("Usage: /grade")

    # labels
    reply = await client.say(MANAGER, f"/tag {dana} neighbour, company")
    assert reply["text"] == f"Member #{dana}: Labels: Neighbour, Company"

    # the member's page: the grade, what the figures alone give, the labels, the buttons
    page = await client.say(MANAGER, f"/member {dana}")
    assert f"Member #{dana} · Dana" in page["text"]
    assert "Grade: Gold (A), set by a manager until" in page["text"]
    assert "Their figures alone give Member (potential)." in page["text"]
    assert "Labels: Neighbour, Company" in page["text"]
    # a tap on Silver grades her B (no end date); the page shows it at once
    answer = await press(client, MANAGER, page, button_data(page, "Silver"))
    assert answer.get("text") == "Saved."
    member = await stored(run, dana)
    assert (member.tier, member.manual_tier, member.manual_tier_until) == ("B", "B", None)
    edited = next(m for m in await client.inbox(MANAGER) if m["message_id"] == page["message_id"])
    assert "Grade: Silver (B), set by a manager" in edited["text"]
    # a tap on a label takes it off
    await press(client, MANAGER, edited, button_data(edited, "Company"))
    assert (await stored(run, dana)).labels == ",neighbour,"

    # the nightly refresh leaves the manager's grade alone
    await refresh.nightly_refresh(
        services.session_factory, policy=services.policy, now=services.clock.now()
    )
    assert (await stored(run, dana)).tier == "B"

    # back to the figures
    edited = next(m for m in await client.inbox(MANAGER) if m["message_id"] == page["message_id"])
    await press(client, MANAGER, edited, button_data(edited, "Back to the grade"))
    member = await stored(run, dana)
    assert (member.tier, member.manual_tier) == ("potential", None)

    async with services.session_factory() as session:
        rows = await session.execute(select(col(AuditLog.action)).order_by(col(AuditLog.id)))
        actions = [a for a in rows.scalars().all() if a.startswith("member.")]
    assert actions == [
        "member.grade",
        "member.labels",
        "member.grade",
        "member.labels",
        "member.grade_lifted",
    ]
