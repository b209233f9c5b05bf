"""Reserving a table (issue 17, part 6) through the emulator and the real dispatcher: a member's
request reaches the store's managers, is confirmed (once, whoever taps first and however often),
the member is told, and is reminded on the morning of the day; `/reservations` lists it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from bot.config import Settings
from bot.sandbox_run import SANDBOX_OWNER_ID, SandboxRun, sandbox
from models.tables import Member, OutboxMessage, Reservation, Role
from sandbox.client import Message, SandboxClient, button_data
from tests.app.staffing import hire
from tests.app.test_feedback import at, copy_of_buttons, press, visit
from tests.app.test_pay import member_of
from ui.keyboards.reservations import day_label

MIA = 1_000_401  # manager of the Noodle Bar
DANA = 1_000_402  # a member


def plain(text: str) -> str:
    """Babel's times use narrow no-break spaces ("7:00 PM"): compared as plain spaces."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


async def shown(client: SandboxClient, user_id: int, message_id: int) -> Message:
    """A message as the chat shows it now (after edits)."""
    return next(m for m in await client.inbox(user_id) if m["message_id"] == message_id)


async def arrives(client: SandboxClient, user_id: int, start: str) -> list[Message]:
    """Wait for a message starting with `start`; every such message so far."""
    messages = await client.wait_for(
        user_id,
        lambda ms: any(plain(m.get("text") or "").startswith(start) for m in ms),
        what=start,
    )
    return [m for m in messages if plain(m.get("text") or "").startswith(start)]


def texts(messages: list[Message]) -> list[str]:
    return [plain(m.get("text") or "") for m in messages]


async def test_a_request_reaches_the_managers_is_confirmed_once_and_recalled_that_morning(
    run: SandboxRun, client: SandboxClient
) -> None:
    await hire(run, client, MIA, "Mia", Role.MANAGER)
    await client.add_user(DANA, "Dana", started=True)
    await client.say(SANDBOX_OWNER_ID, "/start")
    at(run, 15)  # 15:00 in the store's time zone
    await visit(run, DANA, "Dana", "lunch")  # paying made her a member
    tomorrow = (run.services.clock.now() + timedelta(days=1)).date()
    label = day_label(tomorrow, "en")

    ask = await client.say(DANA, "/reserve")
    assert ask["text"] == "Reserve a table: which day?"
    days = [b["text"] for row in ask["reply_markup"]["inline_keyboard"] for b in row]
    assert days[1] == label  # today (dinner times are still ahead), then tomorrow, …
    assert len(days) == 14
    await press(client, DANA, ask, button_data(ask, label))
    step = await shown(client, DANA, ask["message_id"])
    assert step["text"] == f"{label}: what time?"
    await press(client, DANA, step, button_data(step, "19:00"))
    step = await shown(client, DANA, ask["message_id"])
    assert step["text"] == "For how many people?"
    await press(client, DANA, step, button_data(step, "4"))
    step = await shown(client, DANA, ask["message_id"])
    assert step["text"].startswith("Anything the restaurant should know")
    sent = await client.say(DANA, "Window seat, it's her birthday")
    assert plain(sent["text"]) == (
        f"Request sent to Noodle Bar: {label}, 7:00 PM, 4 people. "
        "You will be told here as soon as they answer."
    )

    # the store's manager and the owner get it, with the buttons
    request = (await arrives(client, MIA, "Table request from Dana"))[0]
    assert plain(request["text"]) == (
        f"Table request from Dana (Newcomer, member #1): {label}, 7:00 PM, 4 people.\n"
        "Note: “Window seat, it's her birthday”"
    )
    owners = (await arrives(client, SANDBOX_OWNER_ID, "Table request from Dana"))[0]
    buttons = [b["text"] for row in request["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == ["✓ Confirm", "✗ Decline", "Propose another time"]

    # Mia confirms; a double tap (the same buttons again) and the owner's copy, pressed after,
    # find it answered and write nothing
    keyboard = json.dumps(request["reply_markup"]["inline_keyboard"])
    copy = await copy_of_buttons(run, client, MIA, keyboard)
    first = await press(client, MIA, request, button_data(request, "Confirm"))
    again = await press(client, MIA, copy, button_data(copy, "Confirm"))
    late = await press(client, SANDBOX_OWNER_ID, owners, button_data(owners, "Decline"))
    assert first.get("text") in (None, "")
    assert again["text"] == "Already answered: confirmed."
    assert late["text"] == "Already answered: confirmed."
    edited = await shown(client, MIA, request["message_id"])
    assert edited["text"].endswith("\n→ Confirmed.")

    told = await arrives(client, DANA, "Your table at Noodle Bar is confirmed")
    assert texts(told) == [
        f"Your table at Noodle Bar is confirmed: {label}, 7:00 PM, 4 people. See you then!"
    ]

    listing = await client.say(MIA, "/reservations")
    assert texts([listing]) == [
        "Reservations, today and later:\n"
        f"• {label}, 7:00 PM · Dana (Newcomer) · 4 people · confirmed · "
        "“Window seat, it's her birthday”"
    ]

    # the morning of the day: one reminder, however often the job runs
    now = run.services.clock.now()
    morning = (now + timedelta(days=1)).replace(hour=9, minute=5, second=0, microsecond=0)
    await client.advance_clock((morning - now).total_seconds())
    reminder = "A reminder: your table at Noodle Bar is today at 7:00 PM, 4 people. See you soon!"
    assert texts(await arrives(client, DANA, "A reminder: your table")) == [reminder]
    await client.advance_clock(3600)
    await client.advance_clock(3600)
    assert [t for t in texts(await client.inbox(DANA)) if t == reminder] == [reminder]

    async with run.services.session_factory() as session:
        rows = list((await session.execute(select(Reservation))).scalars())
        confirmations = (
            await session.execute(
                select(OutboxMessage).where(
                    OutboxMessage.dedupe_key == f"reservation:{rows[0].id}:confirmed"  # type: ignore[arg-type]
                )
            )
        ).all()
    assert [(r.status, r.party, r.decided_by) for r in rows] == [("confirmed", 4, MIA)]
    assert rows[0].reminded_at is not None
    assert len(confirmations) == 1


async def test_not_a_member_yet_is_told_how_to_become_one(
    run: SandboxRun, client: SandboxClient
) -> None:
    await client.add_user(DANA, "Dana", started=True)
    reply = await client.say(DANA, "/reserve")
    assert reply["text"].startswith("Reservations are for members.")
    async with run.services.session_factory() as session:
        assert (await session.execute(select(Reservation))).first() is None


BIRTHDAY_POLICY = """preset = "frequency"
[campaigns]
holdout_share = 0.0
[treatments.regular]
offer_table = ["birthday"]
"""


@pytest.fixture
async def birthday_run(sandbox_settings: Settings, tmp_path: Path) -> AsyncIterator[SandboxRun]:
    """The frequency preset whose regulars are offered a table with their birthday greeting
    (seed 001 asks its B guests), without a control group."""
    file = tmp_path / "tables.toml"
    file.write_text(BIRTHDAY_POLICY)
    settings = sandbox_settings.model_copy(update={"policy_file": file})
    async with sandbox(settings, port=0) as running:
        yield running


async def test_a_regulars_birthday_greeting_offers_a_table_that_the_manager_confirms(
    birthday_run: SandboxRun,
) -> None:
    run = birthday_run
    async with SandboxClient(run.url) as client:
        await hire(run, client, MIA, "Mia", Role.MANAGER)
        await client.add_user(DANA, "Dana", started=True)
        at(run, 12)
        for week in range(4):  # four visits in 90 days: a regular
            if week:
                run.services.clock.advance(timedelta(days=7))  # type: ignore[attr-defined]
            await visit(run, DANA, "Dana", f"dinner-{week}")
        member = await member_of(run, DANA)
        assert member is not None
        assert member.tier == "regular"
        async with run.services.session_factory() as session, session.begin():
            tomorrow = (run.services.clock.now() + timedelta(days=1)).date()
            await session.execute(
                update(Member)
                .where(Member.id == member.id)  # type: ignore[arg-type]
                .values(marketing_consent=True, birthday=date(1990, tomorrow.month, tomorrow.day))
            )
        now = run.services.clock.now()
        morning = (now + timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
        await client.advance_clock((morning - now).total_seconds())

        greeting = (await arrives(client, DANA, "Happy birthday"))[0]
        assert "Shall we keep a table for you? Tap below to reserve one." in greeting["text"]
        before = len(await client.inbox(DANA))
        await press(client, DANA, greeting, button_data(greeting, "Reserve a table"))
        ask = await client.reply_after(DANA, before)
        assert ask["text"] == "Reserve a table: which day?"
        today = day_label(tomorrow, "en")  # the birthday is today now
        await press(client, DANA, ask, button_data(ask, today))
        step = await shown(client, DANA, ask["message_id"])
        await press(client, DANA, step, button_data(step, "19:30"))
        step = await shown(client, DANA, ask["message_id"])
        await press(client, DANA, step, button_data(step, "6"))
        step = await shown(client, DANA, ask["message_id"])
        before = len(await client.inbox(DANA))
        await press(client, DANA, step, button_data(step, "Send without a note"))
        sent = await client.reply_after(DANA, before)
        assert plain(sent["text"]).startswith(f"Request sent to Noodle Bar: {today}, 7:30 PM")

        request = (await arrives(client, MIA, "Table request from Dana (Regular"))[0]
        assert "Note:" not in request["text"]
        await press(client, MIA, request, button_data(request, "Confirm"))
        told = await arrives(client, DANA, "Your table at Noodle Bar is confirmed")
        assert texts(told) == [
            f"Your table at Noodle Bar is confirmed: {today}, 7:30 PM, 6 people. See you then!"
        ]
        # confirmed this morning after the reminders' hour: just told, so no second reminder
        await client.advance_clock(2 * 3600)
        assert not [t for t in texts(await client.inbox(DANA)) if t.startswith("A reminder")]
        async with run.services.session_factory() as session:
            row = (await session.execute(select(Reservation))).scalar_one()
        assert (row.via, row.status, row.party) == ("birthday", "confirmed", 6)
        assert row.reminded_at is not None


async def test_another_time_proposed_and_accepted_then_a_declined_request(
    run: SandboxRun, client: SandboxClient
) -> None:
    await hire(run, client, MIA, "Mia", Role.MANAGER)
    await client.add_user(DANA, "Dana", started=True)
    at(run, 15)
    await visit(run, DANA, "Dana", "lunch")
    tomorrow = day_label((run.services.clock.now() + timedelta(days=1)).date(), "en")

    async def reserve(time: str, shown_as: str, party: str) -> Message:
        ask = await client.say(DANA, "/reserve")
        await press(client, DANA, ask, button_data(ask, tomorrow))
        step = await shown(client, DANA, ask["message_id"])
        picker = json.dumps(step["reply_markup"]["inline_keyboard"])
        old = await copy_of_buttons(run, client, DANA, picker)  # the time picker, kept
        await press(client, DANA, step, button_data(step, time))
        step = await shown(client, DANA, ask["message_id"])
        await press(client, DANA, step, button_data(step, party))
        # a stale button of the flow (a time once the party is asked): no longer active
        stale = await press(client, DANA, old, button_data(old, "13:00"))
        assert stale["text"] == "This button is no longer active."
        await client.say(DANA, "a quiet corner")
        start = f"Table request from Dana (Newcomer, member #1): {tomorrow}, {shown_as}"
        return (await arrives(client, MIA, plain(start)))[-1]

    request = await reserve("19:00", "7:00 PM", "2")
    before = len(await client.inbox(MIA))
    await press(client, MIA, request, button_data(request, "Propose another time"))
    times = await client.reply_after(MIA, before)
    assert times["text"] == f"Which time can you offer Dana on {tomorrow}?"
    offered = [b["text"] for row in times["reply_markup"]["inline_keyboard"] for b in row]
    assert "19:00" not in offered
    assert "20:30" in offered
    await press(client, MIA, times, button_data(times, "20:30"))
    assert plain((await shown(client, MIA, times["message_id"]))["text"]).endswith(
        f"→ Proposed {tomorrow}, 8:30 PM instead."
    )
    again = await press(client, MIA, request, button_data(request, "Confirm"))
    assert again["text"] == "Already answered: another time proposed."

    proposal = (await arrives(client, DANA, "Noodle Bar cannot seat you at"))[0]
    assert plain(proposal["text"]) == (
        f"Noodle Bar cannot seat you at {tomorrow}, 7:00 PM, but has a table at "
        f"{tomorrow}, 8:30 PM. Does that work?"
    )
    await press(client, DANA, proposal, button_data(proposal, "That works"))
    accepted = await shown(client, DANA, proposal["message_id"])
    assert plain(accepted["text"]) == (
        f"Your table at Noodle Bar is confirmed: {tomorrow}, 8:30 PM, 2 people. See you then!"
    )
    told = await arrives(client, MIA, "Dana accepted")
    assert texts(told) == [f"Dana accepted {tomorrow}, 8:30 PM (reservation #1, 2 people)."]

    request = await reserve("12:00", "12:00 PM", "3")
    await press(client, MIA, request, button_data(request, "Decline"))
    declined = await arrives(client, DANA, "Sorry, Noodle Bar cannot take your reservation")
    assert texts(declined) == [
        f"Sorry, Noodle Bar cannot take your reservation for {tomorrow}, 12:00 PM. "
        "/reserve to pick another day."
    ]
    listing = await client.say(MIA, "/reservations")
    assert texts([listing]) == [
        "Reservations, today and later:\n"
        f"• {tomorrow}, 8:30 PM · Dana (Newcomer) · 2 people · confirmed · “a quiet corner”"
    ]
