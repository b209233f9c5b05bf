"""A manager's broadcast through the emulator: segment → message → preview → send now, at a
time, or cancelled; and what a removed manager's old buttons can no longer do."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from PIL import Image
from sqlalchemy import select, update
from sqlmodel import col

from bot.sandbox_run import SANDBOX_OWNER_ID, SandboxRun
from models.tables import AuditLog, Campaign, Member, OutboxMessage, Role, TelegramUser
from sandbox.client import Message, SandboxClient
from tests.app.staffing import hire, member_of_another_store
from tests.app.test_delivery import at_noon, drain, members
from tests.app.test_member import press

MANAGER = 1_000_050


async def tiers(run: SandboxRun, ids: list[int], tier: str) -> None:
    async with run.services.session_factory() as session, session.begin():
        await session.execute(update(Member).where(col(Member.id).in_(ids)).values(tier=tier))


def texts(messages: list[Message]) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in messages]


async def received(client: SandboxClient, telegram_ids: list[int], text: str) -> list[int]:
    """How many times each person got `text`."""
    return [texts(await client.inbox(t)).count(text) for t in telegram_ids]


def ticked(label: str) -> Callable[[Message], bool]:
    return lambda message: f"✓ {label}" in str(message)


async def compose(
    client: SandboxClient, who: int, *, pick: list[str], text: str
) -> tuple[Message, Message]:
    """/broadcast, tap each label of `pick`, Next, write `text`: (preview, summary)."""
    picker = await client.say(who, "/broadcast")
    for label in pick:
        await press(client, who, picker, label)
        picker = await edited(client, who, picker, ticked(label))
    await press(client, who, picker, "Next: write the message")
    await client.wait_for(who, lambda ms: "Now send the message" in texts(ms)[-1])
    await client.send(who, text)
    messages = await client.wait_for(
        who, lambda ms: "Send now" in str(ms[-1].get("reply_markup")), what="the preview"
    )
    return messages[-2], messages[-1]


async def edited(
    client: SandboxClient, who: int, message: Message, check: Callable[[Message], bool]
) -> Message:
    """`message` once an edit makes `check` true."""

    def current(messages: list[Message]) -> Message | None:
        return next((m for m in messages if m["message_id"] == message["message_id"]), None)

    messages = await client.wait_for(
        who, lambda ms: check(current(ms) or {}), what="the message's edit"
    )
    found = current(messages)
    assert found is not None
    return found


async def telegram_ids(run: SandboxRun, member_ids: list[int]) -> list[int]:
    async with run.services.session_factory() as session:
        rows = await session.execute(
            select(col(TelegramUser.telegram_id))
            .join(Member, col(Member.telegram_user_id) == col(TelegramUser.id))
            .where(col(Member.id).in_(member_ids))
            .order_by(col(Member.id))
        )
        return list(rows.scalars().all())


async def test_a_broadcast_to_one_tier_reaches_exactly_its_opted_in_members(
    run: SandboxRun, client: SandboxClient
) -> None:
    await at_noon(run)
    consent: list[bool | None] = [True, True, False]
    ids = await members(run, client, 9, consent)
    loyal, regular = ids[:6], ids[6:]
    await tiers(run, loyal, "loyal")
    await tiers(run, regular, "regular")
    loyal_people = await telegram_ids(run, loyal)
    regular_people = await telegram_ids(run, regular)
    await client.block(loyal_people[3])  # opted in, but blocked the bot

    preview, summary = await compose(
        client, SANDBOX_OWNER_ID, pick=["Loyal"], text="Tasting night on Friday!"
    )
    assert preview["text"] == "Tasting night on Friday!"
    assert "Audience: tier: Loyal" in summary["text"]
    # 6 loyal: 2 said no to offers, 1 blocked the bot; 3 remain, minus the control group
    assert "• 2 have not agreed to offers" in summary["text"]
    assert "• 1 has blocked the bot" in summary["text"]
    await press(client, SANDBOX_OWNER_ID, summary, "Control group")
    summary = await edited(
        client, SANDBOX_OWNER_ID, summary, lambda m: "No control group" in str(m)
    )
    assert "3 members will receive it." in summary["text"], summary["text"]
    assert "No control group" in str(summary["reply_markup"])

    await press(client, SANDBOX_OWNER_ID, summary, "Send now")
    sending = await edited(client, SANDBOX_OWNER_ID, summary, lambda m: "Sending to" in str(m))
    assert "Stop sending" in str(sending["reply_markup"])
    await run.scheduler.run_due()
    await drain(run)

    got = await received(client, loyal_people, "Tasting night on Friday!")
    assert got == [1, 1, 0, 0, 1, 0]  # consent True, True, False; blocked; True, False
    assert await received(client, regular_people, "Tasting night on Friday!") == [0, 0, 0]
    async with run.services.session_factory() as session:
        actions = (await session.execute(select(col(AuditLog.action)))).scalars().all()
    assert actions.count("broadcast.send") == 1


async def test_a_scheduled_broadcast_goes_out_at_its_time_and_a_cancelled_one_never(
    run: SandboxRun, client: SandboxClient
) -> None:
    await at_noon(run)
    ids = await members(run, client, 3, [True])
    people = await telegram_ids(run, ids)
    now = run.services.clock.now()
    tomorrow = (now + timedelta(days=1)).date().isoformat()

    _, summary = await compose(client, SANDBOX_OWNER_ID, pick=[], text="Soup week starts!")
    await press(client, SANDBOX_OWNER_ID, summary, "Schedule")
    await client.wait_for(SANDBOX_OWNER_ID, lambda ms: "When should" in texts(ms)[-1])
    nonsense = await client.say(SANDBOX_OWNER_ID, "next friday")
    assert nonsense["text"].startswith("I could not read that time.")
    past = await client.say(SANDBOX_OWNER_ID, f"{now.date().isoformat()} 08:00")
    assert past["text"] == "That time has already passed. Please send a later time."
    scheduled = await client.say(SANDBOX_OWNER_ID, f"{tomorrow} 15:00")
    assert scheduled["text"].startswith("Scheduled for"), scheduled["text"]

    _, other = await compose(client, SANDBOX_OWNER_ID, pick=[], text="Never mind this one")
    await press(client, SANDBOX_OWNER_ID, other, "Schedule")
    await client.wait_for(SANDBOX_OWNER_ID, lambda ms: "When should" in texts(ms)[-1])
    picked = await client.say(SANDBOX_OWNER_ID, f"{tomorrow} 14:00")
    assert await press(client, SANDBOX_OWNER_ID, picked, "Cancel this broadcast") is None
    cancelled = await client.wait_for(
        SANDBOX_OWNER_ID,
        lambda ms: "Cancelled: nothing will be sent." in texts(ms),
        what="the cancellation",
    )
    assert cancelled
    # its old preview cannot bring it back
    refused = await press(client, SANDBOX_OWNER_ID, other, "Send now")
    assert refused == "This broadcast was cancelled."

    await client.advance_clock(timedelta(hours=26).total_seconds() - 3600)  # tomorrow 13:xx
    await drain(run)
    assert await received(client, people, "Soup week starts!") == [0, 0, 0]
    await client.advance_clock(timedelta(hours=2).total_seconds())  # past 15:00
    await drain(run)
    assert await received(client, people, "Soup week starts!") == [1, 1, 1]
    assert await received(client, people, "Never mind this one") == [0, 0, 0]
    async with run.services.session_factory() as session:
        rows = await session.execute(select(col(Campaign.text), col(Campaign.status)))
        statuses = {str(text): str(status) for text, status in rows.all()}
        never = await session.scalar(
            select(col(OutboxMessage.id))
            .join(Campaign, col(Campaign.id) == col(OutboxMessage.campaign_id))
            .where(col(Campaign.text) == "Never mind this one")
        )
    assert statuses["Never mind this one"] == "cancelled"
    assert statuses["Soup week starts!"] == "sending"
    assert never is None


async def test_a_removed_manager_can_no_longer_broadcast_nor_use_old_buttons(
    run: SandboxRun, client: SandboxClient
) -> None:
    await at_noon(run)
    ids = await members(run, client, 2, [True])
    people = await telegram_ids(run, ids)
    await hire(run, client, MANAGER, "Mia", Role.MANAGER)
    _, summary = await compose(client, MANAGER, pick=[], text="From Mia")

    staff = await client.say(SANDBOX_OWNER_ID, "/staff")
    assert "Mia — manager since" in staff["text"]
    await press(client, SANDBOX_OWNER_ID, staff, "Remove Mia")
    told = await client.wait_for(
        MANAGER, lambda ms: "You are no longer a manager of Noodle Bar." in texts(ms)
    )
    assert told
    again = await press(client, SANDBOX_OWNER_ID, staff, "Remove Mia")
    assert again == "This person is no longer on the staff."

    refused = await press(client, MANAGER, summary, "Send now")
    assert refused == "Sorry, this is only for the restaurant's staff."
    assert (await client.say(MANAGER, "/broadcast"))["text"] == (
        "Sorry, this is only for the restaurant's staff."
    )
    await run.scheduler.run_due()
    await drain(run)
    assert await received(client, people, "From Mia") == [0, 0]
    async with run.services.session_factory() as session:
        status = await session.scalar(
            select(col(Campaign.status)).where(col(Campaign.text) == "From Mia")
        )
        audit = (await session.execute(select(col(AuditLog.action)))).scalars().all()
    assert status == "draft"
    assert "staff.revoke" in audit


async def test_diners_and_cashiers_cannot_broadcast(run: SandboxRun, client: SandboxClient) -> None:
    from bot.sandbox_run import SANDBOX_CASHIER_ID

    await client.add_user(7_100_001, "Dana", started=True)
    for who in (7_100_001, SANDBOX_CASHIER_ID):
        reply: dict[str, Any] = await client.say(who, "/broadcast")
        assert reply["text"] == "Sorry, this is only for the restaurant's staff."
        assert (await client.say(who, "/staff"))["text"] == (
            "Sorry, this is only for the restaurant's staff."
        )
    async with run.services.session_factory() as session:
        assert await session.scalar(select(col(Campaign.id))) is None


def a_photo() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 40, 40))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


async def test_a_broadcast_with_a_photo_arrives_as_that_photo_with_its_caption(
    run: SandboxRun, client: SandboxClient
) -> None:
    await at_noon(run)
    ids = await members(run, client, 2, [True])
    people = await telegram_ids(run, ids)
    photo = a_photo()

    picker = await client.say(SANDBOX_OWNER_ID, "/broadcast")
    await press(client, SANDBOX_OWNER_ID, picker, "Next: write the message")
    await client.wait_for(SANDBOX_OWNER_ID, lambda ms: "Now send the message" in texts(ms)[-1])
    await client.send_photo(SANDBOX_OWNER_ID, photo)  # a photo without words
    refused = await client.wait_for(
        SANDBOX_OWNER_ID, lambda ms: texts(ms)[-1].startswith("The message is empty.")
    )
    assert refused
    await client.send_photo(SANDBOX_OWNER_ID, photo, caption="Our new terrace is open!")
    messages = await client.wait_for(
        SANDBOX_OWNER_ID, lambda ms: "Send now" in str(ms[-1].get("reply_markup"))
    )
    preview, summary = messages[-2], messages[-1]
    assert preview["caption"] == "Our new terrace is open!"
    assert await client.file(preview["photo"]["file_id"]) == photo
    await press(client, SANDBOX_OWNER_ID, summary, "Control group")
    summary = await edited(client, SANDBOX_OWNER_ID, summary, lambda m: "No control" in str(m))
    await press(client, SANDBOX_OWNER_ID, summary, "Send now")
    await run.scheduler.run_due()
    await drain(run)
    for person in people:
        got = [
            m for m in await client.inbox(person) if m.get("caption") == "Our new terrace is open!"
        ]
        assert len(got) == 1
        assert await client.file(got[0]["photo"]["file_id"]) == photo


async def test_drafts_and_discarded_broadcasts_stay_out_of_campaigns(
    run: SandboxRun, client: SandboxClient
) -> None:
    await at_noon(run)
    await members(run, client, 1, [True])
    _, kept = await compose(client, SANDBOX_OWNER_ID, pick=[], text="Writing this one")
    _, gone = await compose(client, SANDBOX_OWNER_ID, pick=[], text="Not this one")
    await press(client, SANDBOX_OWNER_ID, gone, "Discard")
    await edited(client, SANDBOX_OWNER_ID, gone, lambda m: "Discarded" in str(m))
    listing = await client.say(SANDBOX_OWNER_ID, "/campaigns")
    assert "Writing this one" not in listing["text"]
    assert "Not this one" not in listing["text"]
    assert kept["reply_markup"]  # still a draft, still sendable from its preview


async def test_each_member_gets_the_version_in_their_language(
    run: SandboxRun, client: SandboxClient
) -> None:
    await at_noon(run)
    ids = await members(run, client, 3, [True])
    people = await telegram_ids(run, ids)
    async with run.services.session_factory() as session, session.begin():
        await session.execute(
            update(TelegramUser)
            .where(col(TelegramUser.telegram_id) == people[1])
            .values(locale="zh_Hans")
        )
        await session.execute(
            update(TelegramUser)
            .where(col(TelegramUser.telegram_id) == people[2])
            .values(locale="zh_Hant")
        )
    _, summary = await compose(client, SANDBOX_OWNER_ID, pick=[], text="Dumplings on Friday!")
    assert "Tap a language to add the text its readers get." in summary["text"]
    await press(client, SANDBOX_OWNER_ID, summary, "简体中文")
    await client.wait_for(SANDBOX_OWNER_ID, lambda ms: "who read 简体中文" in texts(ms)[-1])
    before = len(await client.inbox(SANDBOX_OWNER_ID))
    await client.send(SANDBOX_OWNER_ID, "周五吃饺子！")
    messages = await client.wait_for(
        SANDBOX_OWNER_ID,
        lambda ms: len(ms) >= before + 3 and "Send now" in str(ms[-1].get("reply_markup")),
    )
    assert messages[-2]["text"] == "周五吃饺子！"
    summary = messages[-1]
    assert "Versions: 简体中文; everyone else gets the text as first written." in summary["text"]
    assert "✓ 简体中文" in str(summary["reply_markup"])
    await press(client, SANDBOX_OWNER_ID, summary, "Control group")
    summary = await edited(client, SANDBOX_OWNER_ID, summary, lambda m: "No control" in str(m))
    await press(client, SANDBOX_OWNER_ID, summary, "Send now")
    await run.scheduler.run_due()
    await drain(run)
    assert await received(client, people, "Dumplings on Friday!") == [1, 0, 1]
    assert await received(client, people, "周五吃饺子！") == [0, 1, 0]


async def test_a_manager_reaches_only_the_members_of_their_store(
    run: SandboxRun, client: SandboxClient
) -> None:
    """An owner picks among the stores; a manager of one store broadcasts to its members only."""
    await at_noon(run)
    ids = await members(run, client, 1, [True])
    here = (await telegram_ids(run, ids))[0]
    services = run.services
    elsewhere = 7_200_009
    await client.add_user(elsewhere, "Eve", started=True)
    member_id = await member_of_another_store(run, elsewhere, "Eve")
    async with services.session_factory() as session, session.begin():
        await session.execute(
            update(Member).where(col(Member.id) == member_id).values(marketing_consent=True)
        )
    await hire(run, client, MANAGER, "Mia", Role.MANAGER)  # of the sandbox's store only

    owner_picker = await client.say(SANDBOX_OWNER_ID, "/broadcast")
    assert "Other Bar" in str(owner_picker["reply_markup"])
    assert "2 members match." in owner_picker["text"]
    # the owner schedules one to every store: the manager neither sees nor can cancel it
    _, everyone = await compose(client, SANDBOX_OWNER_ID, pick=[], text="For both bars")
    await press(client, SANDBOX_OWNER_ID, everyone, "Schedule")
    when = (services.clock.now() + timedelta(days=1)).date().isoformat()
    await client.wait_for(SANDBOX_OWNER_ID, lambda ms: "When should" in texts(ms)[-1])
    await client.say(SANDBOX_OWNER_ID, f"{when} 12:00")
    before = len(await client.inbox(MANAGER))
    manager_picker = await client.say(MANAGER, "/broadcast")
    shown = texts((await client.inbox(MANAGER))[before:])
    assert not any("For both bars" in t for t in shown)
    assert "Other Bar" not in str(manager_picker["reply_markup"])
    assert "1 member matches." in manager_picker["text"]

    _, summary = await compose(client, MANAGER, pick=[], text="Only for our regulars here")
    await press(client, MANAGER, summary, "Control group")
    summary = await edited(client, MANAGER, summary, lambda m: "No control" in str(m))
    assert "1 member will receive it." in summary["text"]  # not Eve, of the other store
    await press(client, MANAGER, summary, "Send now")
    await run.scheduler.run_due()
    await drain(run)
    assert await received(client, [here, elsewhere], "Only for our regulars here") == [1, 0]


async def test_an_old_picker_cannot_start_a_broadcast_with_a_lost_choice(
    run: SandboxRun, client: SandboxClient
) -> None:
    await at_noon(run)
    await members(run, client, 1, [True])
    picker = await client.say(SANDBOX_OWNER_ID, "/broadcast")
    await press(client, SANDBOX_OWNER_ID, picker, "Loyal")
    picker = await edited(client, SANDBOX_OWNER_ID, picker, ticked("Loyal"))
    await client.say(SANDBOX_OWNER_ID, "/cancel")  # the choice is gone with the step
    assert await press(client, SANDBOX_OWNER_ID, picker, "Next") == (
        "This button is no longer active."
    )
    assert await press(client, SANDBOX_OWNER_ID, picker, "Regular") == (
        "This button is no longer active."
    )
    async with run.services.session_factory() as session:
        assert await session.scalar(select(col(Campaign.id))) is None
