"""Feedback through the emulator and the real dispatcher: the post-visit question (once, never in
quiet hours), a low rating's complaint reaching the owner and the managers at once, suggestions,
and the managers' inbox with "Mark handled" (the role checked at the press)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, update
from sqlmodel import col

from bot.sandbox_run import SANDBOX_CASHIER_ID, SANDBOX_OWNER_ID, SandboxRun
from loyalty import outbox, roles
from loyalty.channels import Channel
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment
from models.tables import AuditLog, Feedback, OutboxMessage, Role, Staff, Visit
from sandbox.client import Message, SandboxClient, button_data
from tests.app.staffing import hire, member_of_another_store
from tests.app.test_pay import DANA, LI_NA
from ui.keyboards.feedback import MarkHandled, RateVisit, stars_keyboard_json

MANAGER, DEMOTED, REVOKED = 1_000_201, 1_000_202, 1_000_203
QUESTION = "How was your visit to Noodle Bar?"
NOT_STAFF = "Sorry, this is only for the restaurant's staff."


def at(run: SandboxRun, hour: int, minute: int = 0) -> None:
    """Move the sandbox clock to the next hour:minute in the store's time zone (UTC)."""
    now = run.services.clock.now()
    target = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if target <= now:
        target += timedelta(days=1)
    run.services.clock.advance(target - now)  # type: ignore[attr-defined]


async def visit(run: SandboxRun, telegram_id: int, name: str, ref: str) -> int:
    """A payment at the counter: the member's visit, now. Returns the visit's id."""
    services = run.services
    async with services.session_factory() as session, session.begin():
        outcome = await record_payment(
            session,
            source=PaymentSource.POS,
            external_id=ref,
            store=StoreRef(id=services.store.id, timezone=services.store.timezone),
            amount=Decimal(45),
            currency="USD",
            payer=Payer(telegram_id=telegram_id, first_name=name, channel=Channel.TABLE_QR),
            policy=services.policy,
            now=services.clock.now(),
        )
        visit_id = await session.scalar(
            select(col(Visit.id)).where(col(Visit.payment_id) == outcome.payment_id)
        )
    assert visit_id is not None
    return int(visit_id)


def handled_button(message: Message) -> str:
    """The callback data of a message's "Mark handled" button, whatever the reader's language."""
    return next(
        str(button["callback_data"])
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
        for button in row
        if str(button.get("callback_data", "")).startswith("fbh:")
    )


def questions(messages: list[Message]) -> list[Message]:
    """The star questions, in whatever language: the messages with the 1–5 star buttons."""
    return [
        m
        for m in messages
        if any(
            str(button.get("callback_data", "")).startswith("fb:")
            for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
            for button in row
        )
    ]


async def rows(run: SandboxRun, *where: Any) -> list[Feedback]:
    async with run.services.session_factory() as session:
        found = await session.execute(select(Feedback).where(*where).order_by(col(Feedback.id)))
        return list(found.scalars().all())


async def press(client: SandboxClient, user_id: int, message: Message, data: str) -> dict[str, Any]:
    """Press a button and wait for the bot's answer to the press (its toast or alert)."""
    body = {"message_id": message["message_id"], "data": data, "wait": 10}
    result = await client.request("POST", f"/sandbox/users/{user_id}/press", body)
    return dict(result["answer"] or {})


async def copy_of_buttons(run: SandboxRun, client: SandboxClient, to: int, buttons: str) -> Message:
    """The same inline buttons in someone else's chat, as a forwarded message carries them."""
    before = len(await client.inbox(to))
    async with run.services.session_factory() as session, session.begin():
        await outbox.enqueue_one(
            session,
            telegram_id=to,
            text="(forwarded)",
            dedupe=f"copy:{to}:{secrets.token_hex(6)}",
            now=run.services.clock.now(),
            buttons=buttons,
        )
    await run.worker.run_until_idle()
    return await client.reply_after(to, before)


async def replies(client: SandboxClient, user_id: int, text: str, count: int) -> list[Message]:
    """Send a text and wait for `count` messages back."""
    before = len(await client.inbox(user_id))
    await client.send(user_id, text)
    messages = await client.wait_for(user_id, lambda ms: len(ms) >= before + count)
    return messages[before:]


async def test_the_question_comes_hours_after_the_visit_once_and_never_at_night(
    run: SandboxRun, client: SandboxClient
) -> None:
    await client.say(DANA, "/start")
    await client.say(LI_NA, "/start")
    at(run, 10)
    dana_visit = await visit(run, DANA, "Dana", "lunch")

    two_hours = await client.advance_clock(2 * 3600)  # 12:00: too early
    assert two_hours["jobs"]["feedback"] == {"queued": 0, "deferred": 0}
    assert questions(await client.inbox(DANA)) == []

    three_hours = await client.advance_clock(3600 + 60)  # 13:01
    assert three_hours["jobs"]["feedback"] == {"queued": 1, "deferred": 0}
    asked = questions(await client.wait_for(DANA, lambda ms: len(questions(ms)) == 1))
    assert asked[0]["text"].startswith(f"{QUESTION} Tap the stars")
    labels = [b["text"] for row in asked[0]["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["1★", "2★", "3★", "4★", "5★"]
    assert button_data(asked[0], "5★") == RateVisit(visit_id=dana_visit, stars=5).pack()

    # the job again, and the clock moved again: still one question
    again = await run.scheduler.run_due()
    assert again["feedback"] == {"queued": 0, "deferred": 0}
    await client.advance_clock(15 * 60)
    assert len(questions(await client.inbox(DANA))) == 1
    async with run.services.session_factory() as session:
        asked_rows = (
            (
                await session.execute(
                    select(OutboxMessage).where(col(OutboxMessage.dedupe_key).like("feedback:%"))
                )
            )
            .scalars()
            .all()
        )
    assert [(r.dedupe_key, r.marketing, r.status) for r in asked_rows] == [
        (f"feedback:{dana_visit}", False, "sent")
    ]

    # dinner at 19:00: the question would be due at 22:00, in quiet hours (21:00–09:00)
    at(run, 19)
    await visit(run, LI_NA, "李娜", "dinner")
    night = await client.advance_clock(3 * 3600 + 60)  # 22:01
    assert night["jobs"]["feedback"] == {"queued": 0, "deferred": 1}
    assert night["delivered"] == 0
    assert questions(await client.inbox(LI_NA)) == []
    morning = await client.advance_clock(11 * 3600)  # 09:01 the next day
    assert morning["jobs"]["feedback"] == {"queued": 0, "deferred": 0}
    sent = await client.wait_for(LI_NA, lambda ms: len(questions(ms)) == 1)
    (question,) = questions(sent)
    when = datetime.fromtimestamp(question["date"], UTC)
    assert (when.hour, when.minute) >= (9, 0)
    assert not run.services.policy.caps.quiet_hours.contains(when.time())


async def test_a_low_rating_reaches_the_managers_and_the_inbox(
    run: SandboxRun, client: SandboxClient
) -> None:
    services = run.services
    for who, name, language in (
        (MANAGER, "Mei", "zh-hans"),
        (DEMOTED, "Max", "en"),
        (REVOKED, "Rita", "en"),
    ):
        await client.add_user(who, name, language_code=language)
        await client.say(who, "/start")
        async with services.session_factory() as session, session.begin():
            await roles.grant(
                session,
                telegram_id=who,
                store_id=services.store.id,
                role=Role.MANAGER,
                display_name=name,
                granted_by=SANDBOX_OWNER_ID,
                now=services.clock.now(),
            )
    for who in (SANDBOX_OWNER_ID, SANDBOX_CASHIER_ID, DANA):
        await client.say(who, "/start")
    await client.say(LI_NA, "/start")
    at(run, 12)
    dana_visit = await visit(run, DANA, "Dana", "dana-lunch")
    await visit(run, LI_NA, "李娜", "li-lunch")
    await client.advance_clock(3 * 3600 + 60)
    (question,) = questions(await client.wait_for(DANA, lambda ms: len(questions(ms)) == 1))

    # somebody else pressing Dana's star (a forwarded copy of her question): refused
    copy = await copy_of_buttons(run, client, LI_NA, stars_keyboard_json(dana_visit))
    refused = await press(client, LI_NA, copy, RateVisit(visit_id=dana_visit, stars=5).pack())
    assert refused == {"text": "这个按钮不是给您的。", "show_alert": True}  # Li Na reads Chinese
    assert await rows(run) == []

    # one star: thanked, and asked what went wrong
    await press(client, DANA, question, button_data(question, "1★"))
    edited = await client.wait_for(
        DANA, lambda ms: ms[-1]["text"].startswith("Thank you for your rating: ★☆☆☆☆")
    )
    assert "What went wrong?" in edited[-1]["text"]
    assert edited[-1]["message_id"] == question["message_id"]  # the question itself, edited
    # a second press (another device still showing the stars) changes nothing
    second = await copy_of_buttons(run, client, DANA, stars_keyboard_json(dana_visit))
    again = await press(client, DANA, second, RateVisit(visit_id=dana_visit, stars=5).pack())
    assert again["text"] == "You have already rated this visit. Thank you!"
    assert [(r.kind, r.rating) for r in await rows(run)] == [("rating", 1)]

    # the low rating itself reaches the owner and the managers at once, before any words
    alert = f"Low rating from Dana (Newcomer, member #{(await rows(run))[0].member_id}): ★☆☆☆☆."
    await client.wait_for(
        SANDBOX_OWNER_ID, lambda ms: any(m["text"].startswith(alert) for m in ms), what="alert"
    )
    await client.wait_for(MANAGER, lambda ms: "★☆☆☆☆" in (ms[-1]["text"] or ""), what="alert")

    # the complaint goes to the owner and to every manager at once, in their language
    owner_before = len(await client.inbox(SANDBOX_OWNER_ID))
    manager_before = len(await client.inbox(MANAGER))
    thanks = await client.say(DANA, "The soup was cold and nobody came to our table.")
    assert thanks["text"] == (
        "Thank you for telling us. The manager has your message and will look into it."
    )
    to_owner = await client.reply_after(SANDBOX_OWNER_ID, owner_before)
    assert to_owner["text"].startswith(
        f"Complaint from Dana (Newcomer, member #{(await rows(run))[0].member_id}), "
        "who rated the visit ★☆☆☆☆:\nThe soup was cold and nobody came to our table."
    )
    to_manager = await client.reply_after(MANAGER, manager_before)
    assert "新客" in to_manager["text"]  # the tier's name in her language
    assert "The soup was cold and nobody came to our table." in to_manager["text"]
    assert [(r.kind, r.visit_id) for r in await rows(run)] == [
        ("rating", dana_visit),
        ("complaint", dana_visit),
    ]

    # a suggestion from the other diner; and one from somebody who is not a member
    ok = await client.say(LI_NA, "/suggest More vegetarian dishes, please")
    assert ok["text"] == "感谢您的建议！我们团队会认真阅读每一条。"
    await client.add_user(1_000_299, "Nina")
    nope = await client.say(1_000_299, "/suggest Open on Mondays")
    assert nope["text"].startswith("Suggestions are for members.")
    assert len(await rows(run)) == 3

    # the inbox: not for diners; for managers, complaints first, then suggestions, then ratings
    assert (await client.say(DANA, "/feedback"))["text"] == NOT_STAFF
    inbox = await replies(client, SANDBOX_OWNER_ID, "/feedback", 4)
    assert inbox[0]["text"].startswith("Feedback inbox\n")
    assert "Ratings of the last 30 days: 1.0 on average, from 1 rating." in inbox[0]["text"]
    assert "3 open items, complaints first:" in inbox[0]["text"]
    assert inbox[1]["text"].startswith("Complaint from Dana (Newcomer, member #")
    assert inbox[1]["text"].endswith("The soup was cold and nobody came to our table.")
    assert inbox[2]["text"].startswith("Suggestion from 李娜 (Newcomer, member #")
    assert inbox[3]["text"].startswith("Rating from Dana")
    assert "★☆☆☆☆" in inbox[3]["text"]
    # the managers opened it too, before anything was handled
    theirs = {
        who: await replies(client, who, "/feedback", 4) for who in (MANAGER, DEMOTED, REVOKED)
    }

    # the owner handles the complaint: once
    complaint = inbox[1]
    done = await press(client, SANDBOX_OWNER_ID, complaint, handled_button(complaint))
    assert done["text"] == "Marked as handled."
    handled = await client.wait_for(
        SANDBOX_OWNER_ID,
        lambda ms: "✓ Handled by Olivia." in ms[inbox_index(ms, complaint)]["text"],
    )
    assert handled[inbox_index(handled, complaint)].get("reply_markup") is None
    (row,) = await rows(run, col(Feedback.kind) == "complaint")
    assert row.handled_by == SANDBOX_OWNER_ID
    assert row.handled_at is not None
    # the manager's own copy of the inbox, pressed afterwards: already handled
    stale = theirs[MANAGER][1]
    late = await press(client, MANAGER, stale, handled_button(stale))
    assert late == {"text": "该条目已经处理过了。", "show_alert": True}  # Simplified Chinese
    (row,) = await rows(run, col(Feedback.kind) == "complaint")
    assert row.handled_by == SANDBOX_OWNER_ID

    # a manager made cashier, and one whose role was revoked, press their old buttons: refused
    async with services.session_factory() as session, session.begin():
        await session.execute(
            update(Staff).where(col(Staff.telegram_id) == DEMOTED).values(role=Role.CASHIER.value)
        )
        await session.execute(
            update(Staff)
            .where(col(Staff.telegram_id) == REVOKED)
            .values(revoked_at=services.clock.now())
        )
    for who in (DEMOTED, REVOKED):
        suggestion = theirs[who][2]
        answer = await press(client, who, suggestion, handled_button(suggestion))
        assert answer == {"text": NOT_STAFF, "show_alert": True}
    # and the counter's cashier, with the same button
    (suggestion_row,) = await rows(run, col(Feedback.kind) == "suggestion")
    copy = await copy_of_buttons(
        run,
        client,
        SANDBOX_CASHIER_ID,
        outbox.keyboard_json(
            [[("Mark handled", MarkHandled(feedback_id=suggestion_row.id or 0).pack())]]
        ),
    )
    answer = await press(
        client,
        SANDBOX_CASHIER_ID,
        copy,
        MarkHandled(feedback_id=suggestion_row.id or 0).pack(),
    )
    assert answer == {"text": NOT_STAFF, "show_alert": True}
    (suggestion_row,) = await rows(run, col(Feedback.kind) == "suggestion")
    assert suggestion_row.handled_at is None
    async with services.session_factory() as session:
        audits = (
            await session.execute(
                select(col(AuditLog.actor_telegram_id), col(AuditLog.detail)).where(
                    col(AuditLog.action) == "feedback.handled"
                )
            )
        ).all()
        open_items = await session.scalar(
            select(func.count()).select_from(Feedback).where(col(Feedback.handled_at).is_(None))
        )
    assert [tuple(a) for a in audits] == [(SANDBOX_OWNER_ID, f"feedback={row.id}")]
    assert open_items == 2


def inbox_index(messages: list[Message], message: Message) -> int:
    return next(i for i, m in enumerate(messages) if m["message_id"] == message["message_id"])


async def test_suggestions_are_checked_and_kept(run: SandboxRun, client: SandboxClient) -> None:
    await client.say(DANA, "/start")
    await visit(run, DANA, "Dana", "first")
    prompt = await client.say(DANA, "/suggest")
    assert prompt["text"] == "What would you suggest? Send it in your next message, or /cancel."
    too_long = await client.say(DANA, "x" * 2001)
    assert too_long["text"] == "That is too long: please keep it under 2000 characters."
    assert await rows(run) == []
    kept = await client.say(DANA, "  A children's menu  ")
    assert kept["text"] == "Thank you for your suggestion! The team reads every one."
    assert [(r.kind, r.text, r.visit_id) for r in await rows(run)] == [
        ("suggestion", "A children's menu", None)
    ]
    # the step is over: the next text is not a suggestion
    other = await client.say(DANA, "hello")
    assert other["text"].startswith("Sorry, I didn't understand that.")
    for text in ("Longer hours", "Brunch"):
        await client.say(DANA, f"/suggest {text}")
    many = await client.say(DANA, "/suggest Karaoke night")
    assert many["text"] == (
        "Thank you! You have sent several suggestions today; please send more tomorrow."
    )
    assert len(await rows(run)) == 3
    menu = {c["command"] for c in await client.commands(DANA)}
    assert "suggest" in menu


OTHER_MANAGER = 1_000_204


async def test_each_store_s_managers_hear_of_and_see_only_their_store_s_feedback(
    run: SandboxRun, client: SandboxClient
) -> None:
    """A chain of two stores: a complaint about Other Bar reaches the owner and Other Bar's
    manager, not Noodle Bar's; each manager's inbox holds their own store's feedback only, and a
    Noodle Bar manager cannot mark Other Bar's feedback handled."""
    services = run.services
    await hire(run, client, MANAGER, "Mei", Role.MANAGER)
    for who in (SANDBOX_OWNER_ID, LI_NA):
        await client.say(who, "/start")
    await member_of_another_store(run, LI_NA, "李娜")
    async with services.session_factory() as session, session.begin():
        other_visit, other_store = (
            await session.execute(select(col(Visit.id), col(Visit.store_id)))
        ).one()
        assert other_store != services.store.id
    await client.add_user(OTHER_MANAGER, "Otto")
    await client.say(OTHER_MANAGER, "/start")
    async with services.session_factory() as session, session.begin():
        await roles.grant(
            session,
            telegram_id=OTHER_MANAGER,
            store_id=other_store,
            role=Role.MANAGER,
            display_name="Otto",
            granted_by=SANDBOX_OWNER_ID,
            now=services.clock.now(),
        )
    before = {who: len(await client.inbox(who)) for who in (MANAGER, OTHER_MANAGER)}

    # Li Na rates her Other Bar visit one star and says why
    stars_message = await copy_of_buttons(run, client, LI_NA, stars_keyboard_json(other_visit))
    await press(client, LI_NA, stars_message, RateVisit(visit_id=other_visit, stars=1).pack())
    await client.wait_for(LI_NA, lambda ms: ms[-1]["text"].startswith("感谢您的评分"))
    await client.say(LI_NA, "汤是凉的。")
    await client.wait_for(
        OTHER_MANAGER,
        lambda ms: any(m["text"].startswith("Complaint from 李娜") for m in ms),
        what="the complaint",
    )
    await client.wait_for(
        SANDBOX_OWNER_ID,
        lambda ms: any(m["text"].startswith("Complaint from 李娜") for m in ms),
        what="the complaint",
    )
    await run.worker.run_until_idle()
    told = await client.inbox(OTHER_MANAGER)
    assert [m["text"][:19] for m in told[before[OTHER_MANAGER] :]] == [
        "Low rating from 李娜 ",
        "Complaint from 李娜 (",
    ]
    assert len(await client.inbox(MANAGER)) == before[MANAGER]  # Noodle Bar's: nothing

    # the inboxes: Noodle Bar's manager has nothing; Other Bar's and the owner see both items
    (mine,) = await replies(client, MANAGER, "/feedback", 1)
    assert "No ratings in the last 30 days." in mine["text"]
    assert "Nothing open: everything has been handled." in mine["text"]
    theirs = await replies(client, OTHER_MANAGER, "/feedback", 3)
    assert "2 open items, complaints first:" in theirs[0]["text"]
    assert "from 1 rating" in theirs[0]["text"]
    assert theirs[1]["text"].startswith("Complaint from 李娜")
    owners = await replies(client, SANDBOX_OWNER_ID, "/feedback", 3)
    assert "2 open items, complaints first:" in owners[0]["text"]

    # Noodle Bar's manager with Other Bar's button (a forwarded copy): refused, nothing written
    (complaint,) = await rows(run, col(Feedback.kind) == "complaint")
    button = MarkHandled(feedback_id=complaint.id or 0).pack()
    copy = await copy_of_buttons(
        run, client, MANAGER, outbox.keyboard_json([[("Mark handled", button)]])
    )
    answer = await press(client, MANAGER, copy, button)
    assert answer == {"text": "This item no longer exists.", "show_alert": True}
    (complaint,) = await rows(run, col(Feedback.kind) == "complaint")
    assert complaint.handled_at is None
    # Other Bar's manager can
    done = await press(client, OTHER_MANAGER, theirs[1], handled_button(theirs[1]))
    assert done["text"] == "Marked as handled."
    (complaint,) = await rows(run, col(Feedback.kind) == "complaint")
    assert complaint.handled_by == OTHER_MANAGER
