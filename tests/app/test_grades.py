"""Seed 001's grades through the emulator and the real dispatcher: a manager grades a member by
hand (`/grade`, or a button on `/member`) with a reason and an end date, labels them (`/tag`),
and the nightly refresh leaves the grade alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlmodel import col

from bot.config import Settings
from bot.sandbox_run import SandboxRun, sandbox
from loyalty import grades, refresh
from loyalty.channels import Channel
from loyalty.outbox import keyboard_json
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment
from models.tables import AuditLog, Coupon, Member, Role
from sandbox.client import Message, SandboxClient, button_data
from tests.app.staffing import hire, member_of_another_store
from tests.app.test_feedback import copy_of_buttons

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


async def edited(client: SandboxClient, user_id: int, message: Message, says: str) -> Message:
    """`message` once the bot has edited it to say `says` (the edit follows the press's answer)."""

    def done(messages: list[Message]) -> bool:
        return any(m["message_id"] == message["message_id"] and says in m["text"] for m in messages)

    found = await client.wait_for(user_id, done, what=f"the edit saying {says!r}")
    return next(m for m in found if m["message_id"] == message["message_id"])


async def settled(run: SandboxRun, member_id: int, check: Callable[[Member], bool]) -> Member:
    """The member once `check` holds: a press is answered before its transaction commits."""
    for _ in range(200):
        member = await stored(run, member_id)
        if check(member):
            return member
        await asyncio.sleep(0.05)
    return await stored(run, member_id)


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

    # a member of a store she does not manage is not hers to grade, nor to see
    elsewhere = await member_of_another_store(run, 1_000_303, "Eve")
    for typed in (f"/grade {elsewhere} A", f"/member {elsewhere}", f"/tag {elsewhere} student"):
        assert (await client.say(MANAGER, typed))["text"] == "There is no such member.", typed
    assert (await stored(run, elsewhere)).manual_tier is None

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
    member = await settled(run, dana, lambda m: m.tier == "B")
    assert (member.tier, member.manual_tier, member.manual_tier_until) == ("B", "B", None)
    shown = await edited(client, MANAGER, page, "Grade: Silver (B), set by a manager")
    # a tap on a label takes it off
    await press(client, MANAGER, shown, button_data(shown, "Company"))
    assert (await settled(run, dana, lambda m: "company" not in m.labels)).labels == ",neighbour,"

    # the nightly refresh leaves the manager's grade alone
    await refresh.nightly_refresh(
        services.session_factory, policy=services.policy, now=services.clock.now()
    )
    assert (await stored(run, dana)).tier == "B"

    # back to the figures
    shown = await edited(client, MANAGER, page, "Labels: Neighbour\n")
    await press(client, MANAGER, shown, button_data(shown, "Back to the grade"))
    member = await settled(run, dana, lambda m: m.manual_tier is None)
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


async def test_an_adopted_suggestion_thanks_rewards_and_counts_toward_the_grade(
    grades_run: SandboxRun, grades_client: SandboxClient
) -> None:
    """001's B: "reward a guest whose suggestion is adopted, e.g. with a free coupon"; the
    grades preset gives ten_off, and 10 adopted suggestions a month make A."""
    run, client = grades_run, grades_client
    services = run.services
    await client.add_user(DANA, "Dana", started=True)
    dana = await pays(run, DANA, "Dana", "d-1", 40)
    await hire(run, client, MANAGER, "Mia", Role.MANAGER)
    kept = await client.say(DANA, "/suggest A children's menu")
    assert kept["text"] == "Thank you for your suggestion! The team reads every one."

    # the inbox: the suggestion has an Adopt button next to Mark handled
    await client.say(MANAGER, "/feedback")
    item = (await client.wait_for(MANAGER, lambda ms: "A children's menu" in ms[-1]["text"]))[-1]
    assert "Mark handled" in str(item["reply_markup"])
    before = len(await client.inbox(DANA))
    answer = await press(client, MANAGER, item, button_data(item, "Adopt"))
    assert answer.get("text") == "Adopted: the member is thanked."
    assert (await edited(client, MANAGER, item, "★ Adopted by Mia."))["text"].endswith("Mia.")

    # Dana is thanked, with the coupon the policy gives
    thanks = await client.reply_after(DANA, before)
    assert thanks["text"].startswith(
        "Noodle Bar adopted your suggestion: “A children's menu”. Thank you for helping us improve!"
    )
    assert "Our thanks: $10.00 off" in thanks["text"]

    # a second tap (on a copy of the button: the adopted item lost its own) writes nothing
    # twice: no second coupon, no second thanks
    stale = await copy_of_buttons(
        run, client, MANAGER, keyboard_json([[("Adopt", button_data(item, "Adopt"))]])
    )
    again = await press(client, MANAGER, stale, button_data(stale, "Adopt"))
    assert again.get("text") == "This suggestion was adopted already."
    assert len(await client.inbox(DANA)) == before + 1  # the thanks, nothing more
    wallet = await client.say(DANA, "/wallet")
    assert wallet["text"].count("• $10.00 off") == 1  # one coupon

    # it counts toward her grade: the member page says so, and ten a month would make her A
    page = await client.say(MANAGER, f"/member {dana}")
    assert "1 suggestions adopted" in page["text"]
    async with services.session_factory() as session:
        rows = await session.execute(select(col(AuditLog.action)).order_by(col(AuditLog.id)))
        assert "feedback.adopted" in rows.scalars().all()


async def test_a_c_guest_is_greeted_on_their_birthday_with_a_gift_kept_for_them(
    sandbox_settings: Settings, tmp_path: Path
) -> None:
    """Seed 001, C: "a birthday call, and a gift kept for them to enjoy here" — the greeting
    carries the gift and the wallet holds it (no control group, to see it every time)."""
    file = tmp_path / "grades.toml"
    file.write_text('preset = "grades"\n[campaigns]\nholdout_share = 0.0\n')
    settings = sandbox_settings.model_copy(update={"policy_file": file})
    async with sandbox(settings, port=0) as run, SandboxClient(run.url) as client:
        services = run.services
        await client.add_user(DANA, "Dana", started=True)
        member_id = await pays(run, DANA, "Dana", "dinner-1", 40)
        now = services.clock.now()
        tomorrow = now.astimezone(ZoneInfo(services.store.timezone)).date() + timedelta(days=1)
        async with services.session_factory() as session, session.begin():
            await grades.set_grade(
                session,
                member_id=member_id,
                tier="C",
                reason="comes every week",
                until=None,
                by_telegram_id=MANAGER,
                role=Role.OWNER,
                policy=services.policy,
                now=now,
            )
            member = await session.get(Member, member_id)
            assert member is not None
            member.marketing_consent = True
            member.birthday = date(1990, tomorrow.month, tomorrow.day)
        local = now.astimezone(ZoneInfo(services.store.timezone))
        morning = (local + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
        await client.advance_clock((morning - local).total_seconds())

        found = await client.wait_for(
            DANA,
            lambda ms: any(m["text"].startswith("Happy birthday") for m in ms),
            what="the birthday greeting",
        )
        greeting = next(m for m in found if m["text"].startswith("Happy birthday"))
        assert "Our gift for you: " in greeting["text"]
        assert (await stored(run, member_id)).tier == "C"
        async with services.session_factory() as session:
            held = (
                (await session.execute(select(Coupon).where(col(Coupon.member_id) == member_id)))
                .scalars()
                .all()
            )
        assert [c.campaign.split(":")[0] for c in held if c.campaign] == ["birthday"]
