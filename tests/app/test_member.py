"""The member's own commands through the emulator: /card, /profile (birthday picker, offers,
language), the enrolment consent question, /stop, /invite, /mydata and /forget."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bot.sandbox_run import SandboxRun
from loyalty.payments import Channel, Payer, PaymentSource, StoreRef, record_payment
from loyalty.policy import load_policy
from loyalty.qr import CardPayload, ReferralPayload
from models import queries
from models.tables import Bill, CheckIn, FraudEvent, Member, Payment, TelegramUser, Visit
from sandbox.client import Message, SandboxClient, button_data
from ui.formatting import format_date
from ui.privacy import consent_prompt

DANA, LI_NA = 1_000_101, 1_000_102


async def enrol(run: SandboxRun, telegram_id: int, first_name: str, amount: str) -> int:
    """Pay once at the counter (the POS): the person becomes a member."""
    store = run.services.store
    async with run.services.session_factory() as session, session.begin():
        outcome = await record_payment(
            session,
            source=PaymentSource.POS,
            external_id=f"test-{telegram_id}-{amount}",
            store=StoreRef(id=store.id, timezone=store.timezone),
            amount=Decimal(amount),
            currency=store.currency,
            payer=Payer(telegram_id=telegram_id, first_name=first_name, channel=Channel.CASHIER),
            policy=load_policy(),
            now=run.services.clock.now(),
        )
    return outcome.member_id


async def member_row(run: SandboxRun, member_id: int) -> Member:
    async with run.services.session_factory() as session:
        member = await session.get(Member, member_id)
    assert member is not None
    return member


async def settled(run: SandboxRun, member_id: int, check: Callable[[Member], bool]) -> Member:
    """The member row once `check` holds: the bot answers before its transaction commits."""
    for _ in range(200):
        member = await member_row(run, member_id)
        if check(member):
            return member
        await asyncio.sleep(0.025)
    raise AssertionError(f"member {member_id} never reached the expected state: {member}")


async def count(run: SandboxRun, table: type, *where: Any) -> int:
    query = select(func.count()).select_from(table)
    for condition in where:
        query = query.where(condition)
    async with run.services.session_factory() as session:
        return int(await session.scalar(query) or 0)


async def press(client: SandboxClient, user_id: int, message: Message, label: str) -> Any:
    """Tap the button labelled `label`; return the bot's answer to the tap (toast text)."""
    body = await client.request(
        "POST",
        f"/sandbox/users/{user_id}/press",
        {"message_id": message["message_id"], "data": button_data(message, label), "wait": 5},
    )
    answer = body["answer"]
    return answer["text"] if answer else None


async def message_when(
    client: SandboxClient, user_id: int, message_id: int, contains: str
) -> Message:
    """The message `message_id` once its text contains `contains` (after an edit)."""

    def edited(messages: list[Message]) -> bool:
        return any(
            m["message_id"] == message_id and contains in (m["text"] or m["caption"] or "")
            for m in messages
        )

    messages = await client.wait_for(user_id, edited, what=f"{contains!r}")
    return next(m for m in messages if m["message_id"] == message_id)


def start_parameter(text: str) -> str:
    link = next(word for word in text.split() if word.startswith("https://t.me/"))
    return parse_qs(urlsplit(link).query)["start"][0]


async def test_card_shows_tier_progress_points_and_the_card_qr(
    run: SandboxRun, client: SandboxClient
) -> None:
    stranger = await client.say(DANA, "/card")
    assert stranger["text"].startswith("You are not a member yet.")
    assert "first payment" in stranger["text"]
    assert stranger["photo"] is None

    enrolled_at = run.services.clock.now()
    member_id = await enrol(run, DANA, "Dana", "86.50")
    card = await client.say(DANA, "/card")
    assert card["photo"] is not None
    caption = card["caption"]
    assert caption.startswith("Noodle Bar member card\nDana\n")
    assert "Tier: Newcomer" in caption
    deadline = (enrolled_at + timedelta(days=90)).astimezone(ZoneInfo(run.services.store.timezone))
    assert (
        f"1 more visit before {format_date(deadline.date(), 'en')} and you become "
        "Returning guest." in caption
    )
    assert "Points: 86" in caption
    assert "Visits: 1" in caption
    payload = run.services.signer.verify(start_parameter(caption), now=run.services.clock.now())
    assert payload == CardPayload(member_id=member_id)


async def test_profile_birthday_picker_offers_and_language(
    run: SandboxRun, client: SandboxClient
) -> None:
    stranger = await client.say(DANA, "/profile")
    assert stranger["text"].startswith("You are not a member yet.")
    member_id = await enrol(run, DANA, "Dana", "20")

    panel = await client.say(DANA, "/profile")
    assert panel["text"].startswith("Your profile")
    assert "Birthday: not set" in panel["text"]
    assert "Offers and news: off" in panel["text"]  # opt-in: off until the member says yes
    await press(client, DANA, panel, "Add birthday")
    months = await message_when(client, DANA, panel["message_id"], "which month?")
    labels = [b["text"] for row in months["reply_markup"]["inline_keyboard"] for b in row]
    assert labels[:12] == [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
    ]  # fmt: skip
    await press(client, DANA, months, "Feb")
    days = await message_when(client, DANA, panel["message_id"], "which day of February?")
    day_labels = [b["text"] for row in days["reply_markup"]["inline_keyboard"] for b in row]
    assert "29" in day_labels
    assert "30" not in day_labels
    toast = await press(client, DANA, days, "29")
    assert toast == "Birthday saved: February 29"
    saved = await message_when(client, DANA, panel["message_id"], "Birthday: February 29")
    await settled(run, member_id, lambda m: m.birthday == date(2000, 2, 29))

    await press(client, DANA, saved, "Turn offers on")
    on = await message_when(client, DANA, panel["message_id"], "Offers and news: on")
    member = await settled(run, member_id, lambda m: m.marketing_consent is True)
    assert member.consent_at is not None

    await press(client, DANA, on, "Language")
    languages = await message_when(client, DANA, panel["message_id"], "Choose your language:")
    await press(client, DANA, languages, "简体中文")
    await message_when(client, DANA, panel["message_id"], "语言已设为：简体中文。")


async def test_enrolment_consent_and_stop(run: SandboxRun, client: SandboxClient) -> None:
    member_id = await enrol(run, DANA, "Dana", "20")
    await client.say(DANA, "/start")  # the person has opened the chat
    i18n = run.services.i18n
    with i18n.context(), i18n.use_locale("en"):
        text, keyboard = consent_prompt(run.services.policy)
    assert "never your phone number" in text
    before = len(await client.inbox(DANA))
    await run.bot.send_message(DANA, text, reply_markup=keyboard)
    prompt = await client.reply_after(DANA, before)
    labels = [b["text"] for row in prompt["reply_markup"]["inline_keyboard"] for b in row]
    assert labels == ["Yes, send me offers", "No thanks"]

    await press(client, DANA, prompt, "Yes, send me offers")
    answered = await message_when(client, DANA, prompt["message_id"], "Offers are on.")
    assert answered["reply_markup"] is None
    await settled(run, member_id, lambda m: m.marketing_consent is True)

    stop = await client.say(DANA, "/stop")
    assert stop["text"].startswith("Done: no more offers or news from Noodle Bar.")
    assert "still get your receipts" in stop["text"]
    assert "/profile" in stop["text"]
    await settled(run, member_id, lambda m: m.marketing_consent is False)

    stranger = await client.say(LI_NA, "/stop")
    assert await count(run, Member) == 1  # nothing written for a stranger
    assert stranger["text"]


async def test_invite_gives_a_personal_referral_link(
    run: SandboxRun, client: SandboxClient
) -> None:
    stranger = await client.say(DANA, "/invite")
    assert stranger["text"].startswith("You are not a member yet.")
    member_id = await enrol(run, DANA, "Dana", "20")
    reply = await client.say(DANA, "/invite")
    assert reply["text"].startswith("Bring a friend to Noodle Bar!")
    assert "You get 100 points when they pay for the first time." in reply["text"]
    payload = run.services.signer.verify(
        start_parameter(reply["text"]), now=run.services.clock.now()
    )
    assert payload == ReferralPayload(member_id=member_id)


async def download(client: SandboxClient, message: Message) -> Any:
    document = message["document"]
    assert document is not None
    assert document["file_name"] == "regulars-my-data.json"
    url = document["url"]
    if url.startswith("/"):  # the emulator gives its own files as a path
        url = f"{client.base_url}{url}"
    async with client.session.get(url) as response:
        assert response.status == 200
        return json.loads(await response.read())


async def test_mydata_exports_everything_as_json(run: SandboxRun, client: SandboxClient) -> None:
    stranger = await client.say(LI_NA, "/mydata")
    little = await download(client, stranger)
    assert little["member"] is None
    assert little["telegram"]["telegram_id"] == LI_NA
    assert little["telegram"]["language_code"] == "zh-hans"

    await enrol(run, DANA, "Dana", "86.50")
    reply = await client.say(DANA, "/mydata")
    assert reply["caption"].startswith("Everything Noodle Bar keeps about you")
    data = await download(client, reply)
    assert data["member"]["display_name"] == "Dana"
    assert data["member"]["tier"] == {"key": "newcomer", "name": "Newcomer"}
    assert data["member"]["points_balance"] == 86
    assert [(p["amount"], p["currency"]) for p in data["payments"]] == [("86.50", "USD")]
    assert [p["points"] for p in data["points"]] == [86]
    assert len(data["visits"]) == 1
    datetime.fromisoformat(data["payments"][0]["created_at"])
    datetime.fromisoformat(data["exported_at"])


async def test_forget_erases_the_person_and_keeps_the_accounts(
    run: SandboxRun, client: SandboxClient
) -> None:
    member_id = await enrol(run, DANA, "Dana", "86.50")
    store = run.services.store
    now = run.services.clock.now()
    async with run.services.session_factory() as session, session.begin():
        (table,) = await queries.ensure_tables(session, store_id=store.id, numbers=[3], now=now)
        assert table.id is not None
        await queries.add_check_in(
            session, telegram_id=DANA, store_id=store.id, table_id=table.id, now=now
        )
        session.add(
            Bill(
                telegram_id=DANA,
                store_id=store.id,
                amount=Decimal(12),
                currency=store.currency,
                created_at=now,
                expires_at=now + timedelta(minutes=30),
            )
        )
        session.add(FraudEvent(at=now, kind="daily_limit", store_id=store.id, telegram_id=DANA))

    ask = await client.say(DANA, "/forget")
    assert ask["text"].startswith("Erase your data at Noodle Bar?")
    assert "Your points (86) and tier are lost." in ask["text"]
    await press(client, DANA, ask, "Cancel")
    await message_when(client, DANA, ask["message_id"], "Nothing was erased.")
    assert (await member_row(run, member_id)).erased_at is None

    ask = await client.say(DANA, "/forget")
    await press(client, DANA, ask, "Yes, erase my data")
    await message_when(client, DANA, ask["message_id"], "Done: your data is erased.")

    member = await settled(run, member_id, lambda m: m.erased_at is not None)
    assert (member.display_name, member.telegram_user_id, member.birthday) == ("", None, None)
    assert await count(run, TelegramUser, TelegramUser.telegram_id == DANA) == 0
    assert await count(run, CheckIn, CheckIn.telegram_id == DANA) == 0
    assert await count(run, Bill, Bill.telegram_id == DANA) == 0
    assert await count(run, FraudEvent, FraudEvent.telegram_id == DANA) == 0
    assert await count(run, FraudEvent) == 1
    assert await count(run, Payment, Payment.member_id == member_id) == 1
    assert await count(run, Visit, Visit.member_id == member_id) == 1

    after = await client.say(DANA, "/card")  # a stranger again
    assert after["text"].startswith("You are not a member yet.")
    new_id = await enrol(run, DANA, "Dana", "10")
    assert new_id != member_id


async def test_card_in_simplified_chinese(run: SandboxRun, client: SandboxClient) -> None:
    # needs merged catalogue
    await enrol(run, LI_NA, "李娜", "20")
    card = await client.say(LI_NA, "/card")
    assert "会员等级：新客" in card["caption"]
    assert "前再到店1次，即可升级为回头客" in card["caption"]
    assert "即可升级为回头客" in card["caption"]
