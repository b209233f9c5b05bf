"""The care desk end to end, through the emulator and the real dispatcher, moved by the sandbox
clock: the morning care list reaches the store's managers (not another store's), "Write to them"
puts the manager's note in the member's chat, a handled entry never comes back, and the survey
"why don't we see you more?" is asked once per period and its answer reaches the managers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from babel.dates import format_date
from sqlalchemy import select
from sqlmodel import col

from bot.config import Settings
from bot.sandbox_run import SANDBOX_OWNER_ID, SandboxRun, sandbox
from loyalty import roles
from loyalty.channels import Channel
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment
from models import queries
from models.tables import AuditLog, CareEntry, CareSurvey, Feedback, OutboxMessage, Role
from sandbox.client import Message, SandboxClient, button_data
from tests.app.staffing import hire
from tests.app.test_feedback import at, copy_of_buttons, press, replies
from ui.keyboards.care import WhyAnswer, survey_keyboard_json

MIA = 1_000_301  # manager of the Noodle Bar
OTTO = 1_000_302  # manager of the Other Bar only
RUI = 1_000_303  # a regular: every Friday
SAM = 1_000_304  # came weekly for a month, then once in the next
NOTE = "We have missed you, Rui! Your corner table is waiting."


@pytest.fixture
async def care_run(sandbox_settings: Settings, tmp_path: Path) -> AsyncIterator[SandboxRun]:
    """The frequency preset in a neighbourhood where guests come weekly: until there is data,
    a member is expected back after 7 days (not 30), so a diner who comes every 7 days has a
    7-day rhythm from the start."""
    file = tmp_path / "care.toml"
    file.write_text('preset = "frequency"\n[lapse]\ndefault_interval_days = 7\n')
    settings = sandbox_settings.model_copy(update={"policy_file": file})
    async with sandbox(settings, port=0) as running:
        yield running


async def pay(run: SandboxRun, who: int, name: str, ref: str, amount: str = "45") -> int:
    """A payment at the counter of the Noodle Bar, now; the member's id."""
    services = run.services
    async with services.session_factory() as session, session.begin():
        outcome = await record_payment(
            session,
            source=PaymentSource.POS,
            external_id=ref,
            store=StoreRef(id=services.store.id, timezone=services.store.timezone),
            amount=Decimal(amount),
            currency="USD",
            payer=Payer(telegram_id=who, first_name=name, channel=Channel.TABLE_QR),
            policy=services.policy,
            now=services.clock.now(),
        )
    return outcome.member_id


def days(run: SandboxRun, n: float) -> None:
    """Move the clock without running the jobs (time passing between visits)."""
    run.services.clock.advance(timedelta(days=n))  # type: ignore[attr-defined]


async def other_store_manager(run: SandboxRun, client: SandboxClient) -> None:
    services = run.services
    await client.add_user(OTTO, "Otto", started=True)
    async with services.session_factory() as session, session.begin():
        other = await queries.add_store(
            session, name="Other Bar", timezone="UTC", currency="USD", now=services.clock.now()
        )
        assert other.id is not None
        await roles.grant(
            session,
            telegram_id=OTTO,
            store_id=other.id,
            role=Role.MANAGER,
            display_name="Otto",
            granted_by=SANDBOX_OWNER_ID,
            now=services.clock.now(),
        )


async def morning(client: SandboxClient, run: SandboxRun) -> dict[str, object]:
    """To 10:05 tomorrow (the list's hour is 10:00): the jobs run, the outbox is delivered."""
    now = run.services.clock.now()
    target = (now + timedelta(days=1)).replace(hour=10, minute=5, second=0, microsecond=0)
    return await client.advance_clock((target - now).total_seconds())


def care_lists(messages: list[Message]) -> list[Message]:
    """Care lists still waiting for something: messages with an entry's buttons (whatever the
    reader's language)."""
    return [
        m
        for m in messages
        if any(
            str(b.get("callback_data", "")).startswith("care:")
            for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row
        )
    ]


async def test_a_regular_past_their_rhythm_reaches_their_store_s_manager_once(
    care_run: SandboxRun,
) -> None:
    run = care_run
    async with SandboxClient(run.url) as client:
        await hire(run, client, MIA, "Mia", Role.MANAGER)
        await other_store_manager(run, client)
        await client.add_user(RUI, "Rui", started=True)
        await client.say(SANDBOX_OWNER_ID, "/start")
        at(run, 12)
        for week in range(5):  # five Friday lunches: four visits in 90 days make a regular
            if week:
                days(run, 7)
            member_id = await pay(run, RUI, "Rui", f"rui-{week}")
        async with run.services.session_factory() as session:
            member = await queries.get_member_by_telegram_id(session, telegram_id=RUI)
            assert member is not None
            assert member.tier == "regular"
            assert member.expected_interval_days == Decimal(7)
            assert member.last_visit_at is not None
            # the sandbox's day of the last lunch (`at(run, 12)` is tomorrow's noon after noon)
            last_lunch = format_date(member.last_visit_at.date(), format="medium", locale="en")

        # two weeks and six days into his absence he has come twice in 30 days, after three
        # times in the 30 before: on the list as coming less (seed 003's "fewer than three
        # times a month"), not yet as overdue
        days(run, 20)
        await morning(client, run)
        (coming_less,) = care_lists(await client.wait_for(MIA, lambda ms: len(care_lists(ms)) == 1))
        assert coming_less["text"].split("\n\n")[1] == (
            f"1. Rui — Regular, member #{member_id}\n"
            "Came 2 times in the last 30 days, 3 times in the 30 days before.\n"
            f"Last visit: {last_lunch} · usual rhythm: every 7 days · last rating: none"
        )

        # 7 days of rhythm + 14 of margin: overdue 21 days after the last lunch. The next
        # morning he is on the list of the Noodle Bar's manager and of the owner as overdue
        ran = await morning(client, run)
        found = ran["jobs"]["care_lists"][str(run.services.store.id)]["found"]  # type: ignore[index]
        assert found == {"overdue": 1}
        entry = care_lists(await client.wait_for(MIA, lambda ms: len(care_lists(ms)) == 2))[-1]
        header, block = entry["text"].split("\n\n")
        assert header.startswith("Noodle Bar, ")
        assert header.endswith(": 1 member needs a personal touch today.")
        lines = block.split("\n")
        assert lines[0] == f"1. Rui — Regular, member #{member_id}"
        assert lines[1] == "Past their rhythm: 21 days since the last visit."  # and 22 hours
        assert lines[2].startswith("Last visit: ")
        assert lines[2].endswith(" · usual rhythm: every 7 days · last rating: none")
        labels = [b["text"] for row in entry["reply_markup"]["inline_keyboard"] for b in row]
        assert labels == ["1 · ✍ Write to them", "1 · ❓ Ask why", "1 · ✓ Done", "1 · ⏰ Later"]
        owner_copy = care_lists(await client.inbox(SANDBOX_OWNER_ID))[-1]
        assert owner_copy["text"] == entry["text"]
        # the Other Bar's manager hears nothing, and /care shows them nothing of this store
        assert care_lists(await client.inbox(OTTO)) == []
        empty = await client.say(OTTO, "/care")
        assert empty["text"] == "Nobody needs a personal touch today: the care list is empty."

        # Write to them: the manager types a note; it reaches Rui's chat, from Mia at the store
        await press(client, MIA, entry, button_data(entry, "Write to them"))
        asked = await client.wait_for(MIA, lambda ms: ms[-1]["text"].startswith("Write your note"))
        assert "to Rui" in asked[-1]["text"]
        done = await client.say(MIA, NOTE)
        assert done["text"] == "Sent: it is on its way to their chat."
        await run.worker.run_until_idle()
        await client.wait_for(
            RUI,
            lambda ms: any(m["text"] == f"A note from Mia at Noodle Bar:\n\n{NOTE}" for m in ms),
        )
        async with run.services.session_factory() as session:
            row = (
                await session.execute(
                    select(OutboxMessage).where(col(OutboxMessage.dedupe_key).like("care-note:%"))
                )
            ).scalar_one()
            assert (row.marketing, row.status, row.telegram_id) == (False, "sent", RUI)
            entries = (await session.execute(select(CareEntry))).scalars().all()
            assert [(e.reason, e.status, e.action, e.handled_by) for e in entries] == [
                ("below", "closed", "superseded", None),
                ("overdue", "done", "wrote", MIA),
            ]
            audit = (
                await session.execute(select(AuditLog).where(col(AuditLog.action) == "care.write"))
            ).scalar_one()
            assert audit.actor_telegram_id == MIA
        edited = await client.wait_for(
            MIA, lambda ms: any(m["text"].endswith("\n\n1 · ✍ Mia wrote to them.") for m in ms)
        )
        (now_shown,) = [m for m in edited if m["message_id"] == entry["message_id"]]
        assert now_shown["text"] == entry["text"] + "\n\n1 · ✍ Mia wrote to them."
        assert now_shown.get("reply_markup") is None  # its buttons went with it
        # the owner's copy of the same entry, pressed afterwards: already handled
        late = await press(client, SANDBOX_OWNER_ID, owner_copy, button_data(owner_copy, "Done"))
        assert late == {"text": "This one was already handled.", "show_alert": True}

        # handled: the next mornings bring no list, and /care shows nothing
        mia_before = len(await client.inbox(MIA))
        for _ in range(3):
            await morning(client, run)
        assert len(await client.inbox(MIA)) == mia_before
        assert (await client.say(MIA, "/care"))["text"].startswith("Nobody needs")


def questions(messages: list[Message]) -> list[Message]:
    """The survey's questions in a member's chat: the messages with its one-tap reasons."""
    return [
        m
        for m in messages
        if any(
            str(b.get("callback_data", "")).startswith("why:")
            for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row
        )
    ]


def asked_why(messages: list[Message]) -> list[Message]:
    """The survey's unanswered questions in an English-reading member's chat (an answer
    replaces the question with thanks)."""
    return [m for m in messages if "Would you tell us why we see you less?" in (m["text"] or "")]


REASONS = [
    "I moved away",
    "The price",
    "The taste",
    "The service",
    "The waiting",
    "Just busy",
    "Something else…",
]


async def test_a_guest_coming_twice_a_month_is_asked_why_once_a_period(
    care_run: SandboxRun,
) -> None:
    """The issue's guest who came twice a month for 200 days and heard nothing but greetings:
    asked once, by the policy; the answer reaches the manager and /feedback; not asked again
    until the period (90 days) is over."""
    run = care_run
    async with SandboxClient(run.url) as client:
        await hire(run, client, MIA, "Mia", Role.MANAGER)
        await client.add_user(SAM, "Sam", started=True)
        at(run, 10, 5)
        for visit in range(4):  # every 15 days: a month and a half a member, on his rhythm
            if visit:
                days(run, 15)
            member_id = await pay(run, SAM, "Sam", f"sam-{visit}")

        ran = await morning(client, run)
        assert ran["jobs"]["care_lists"][str(run.services.store.id)]["surveys"] == 1  # type: ignore[index]
        (question,) = questions(await client.wait_for(SAM, lambda ms: len(questions(ms)) == 1))
        assert question["text"] == (
            "Hello Sam! We have missed you at Noodle Bar lately. Would you tell us why we see "
            "you less? One tap is enough, and it helps us do better."
        )
        labels = [b["text"] for row in question["reply_markup"]["inline_keyboard"] for b in row]
        assert labels == REASONS

        # one tap: thanked in place; the manager hears at once; /feedback has it
        mia_before = len(await client.inbox(MIA))
        await press(client, SAM, question, button_data(question, "The price"))
        await client.wait_for(
            SAM,
            lambda ms: any(
                m["message_id"] == question["message_id"]
                and m["text"]
                == "Thank you for telling us (The price). It goes straight to the manager."
                for m in ms
            ),
        )
        await run.worker.run_until_idle()
        heard = await client.reply_after(MIA, mia_before)
        assert heard["text"].startswith(
            f"Sam (Regular, member #{member_id}) answered “why don't we see you more?”: The price"
        )
        box = await replies(client, MIA, "/feedback", 2)
        assert box[1]["text"].startswith(f"Survey answer from Sam (Regular, member #{member_id})")
        assert box[1]["text"].endswith("Why we see them less: The price")
        # a second tap (another device) changes nothing
        busy = button_data(question, "Just busy")
        survey_id = WhyAnswer.unpack(busy).survey_id
        with run.services.i18n.context(), run.services.i18n.use_locale("en"):
            buttons = survey_keyboard_json(survey_id)
        copy = await copy_of_buttons(run, client, SAM, buttons)
        again = await press(client, SAM, copy, busy)
        assert again["text"] == "Thank you, we have your answer already."

        # he keeps coming twice a month, below the minimum: not asked again within 90 days...
        for _ in range(5):
            days(run, 14)
            await pay(run, SAM, "Sam", f"sam-more-{_}")
            await morning(client, run)
        assert asked_why(await client.inbox(SAM)) == []  # the one question, answered
        # ...and asked again once they are over
        days(run, 14)
        await pay(run, SAM, "Sam", "sam-last")
        await morning(client, run)
        await client.wait_for(SAM, lambda ms: len(asked_why(ms)) == 1)
        async with run.services.session_factory() as session:
            surveys = (await session.execute(select(CareSurvey))).scalars().all()
            assert [(s.reason, s.asked_by) for s in surveys] == [("price", None), (None, None)]
            first, second = (s.asked_at.date() for s in surveys)
            assert (second - first).days == 90  # the morning the period is over
            answers = (
                (await session.execute(select(Feedback).where(col(Feedback.kind) == "survey")))
                .scalars()
                .all()
            )
            assert [a.text for a in answers] == ["price"]


async def test_from_the_list_later_then_ask_why_and_their_own_words_reach_the_manager(
    care_run: SandboxRun,
) -> None:
    run = care_run
    async with SandboxClient(run.url) as client:
        await hire(run, client, MIA, "Mia", Role.MANAGER)
        await client.add_user(SAM, "Sam", started=True)
        at(run, 12)
        for visit in range(6):  # every 8 days for 40 days, then not for three weeks
            if visit:
                days(run, 8)
            member_id = await pay(run, SAM, "Sam", f"sam-{visit}")
        days(run, 20)

        # below the monthly minimum after being above it: on the list (he is overdue for the
        # win-back, so the policy does not ask him itself)
        ran = await morning(client, run)
        assert ran["jobs"]["care_lists"][str(run.services.store.id)]["surveys"] == 0  # type: ignore[index]
        (entry,) = care_lists(await client.wait_for(MIA, lambda ms: len(care_lists(ms)) == 1))
        assert entry["text"].split("\n")[3] == (
            "Came 2 times in the last 30 days, 3 times in the 30 days before."
        )

        # Later: off today's list, back on tomorrow's
        later = await press(client, MIA, entry, button_data(entry, "Later"))
        assert later["text"].startswith("1 · ⏰ Back on the list on ")
        assert (await client.say(MIA, "/care"))["text"].startswith("Nobody needs")
        await morning(client, run)
        entry = care_lists(await client.wait_for(MIA, lambda ms: len(care_lists(ms)) == 1))[0]
        assert entry["text"].split("\n")[2:4] == [
            f"1. Sam — Regular, member #{member_id}",
            "Past their rhythm: 21 days since the last visit.",
        ]

        # Ask why: the question reaches Sam; he answers in his own words
        asked = await press(client, MIA, entry, button_data(entry, "Ask why"))
        assert asked["text"] == "Sent: it is on its way to their chat."
        await run.worker.run_until_idle()
        (question,) = questions(await client.wait_for(SAM, lambda ms: len(questions(ms)) == 1))
        await press(client, SAM, question, button_data(question, "Something else"))
        await client.wait_for(
            SAM,
            lambda ms: any(
                m["text"] == "Thank you! What keeps you away? Tell us in your next message."
                for m in ms
            ),
        )
        mia_before = len(await client.inbox(MIA))
        thanks = await client.say(SAM, "The new opening hours do not suit me.")
        assert thanks["text"] == "Thank you for telling us. It goes straight to the manager."
        await run.worker.run_until_idle()
        heard = await client.reply_after(MIA, mia_before)
        assert heard["text"] == (
            f"Sam (Regular, member #{member_id}) answered “why don't we see you more?”: "
            "Something else…\nThey wrote: “The new opening hours do not suit me.”\n\n"
            "/feedback shows the inbox."
        )
        async with run.services.session_factory() as session:
            (survey,) = (await session.execute(select(CareSurvey))).scalars().all()
            assert (survey.reason, survey.asked_by) == ("other", MIA)
            entries = (await session.execute(select(CareEntry))).scalars().all()
            # the day after "Later" he was also past his rhythm: that entry took the line
            assert [(e.reason, e.status, e.action, e.handled_by) for e in entries] == [
                ("below", "closed", "superseded", None),
                ("overdue", "done", "asked", MIA),
            ]
            actions = (
                (
                    await session.execute(
                        select(col(AuditLog.action)).where(col(AuditLog.actor_telegram_id) == MIA)
                    )
                )
                .scalars()
                .all()
            )
            assert [a for a in actions if a.startswith("care.")] == ["care.later", "care.ask"]
        # handled: the list stays empty from now on
        mia_before = len(await client.inbox(MIA))
        await morning(client, run)
        assert care_lists((await client.inbox(MIA))[mia_before:]) == []
