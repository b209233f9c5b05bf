"""Pay-is-membership end to end: table QR → pay in chat → member; cashier; walk-in receipt.

Everything goes through the emulator over HTTP and the real dispatcher; the database is checked
for what a restaurant's accounts would show."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.sandbox_run import SANDBOX_CASHIER_ID, SandboxRun
from loyalty.qr import CardPayload, ReceiptPayload, TablePayload, deep_link
from models.tables import Bill, CheckIn, Member, Payment, PointsEntry, TelegramUser, Visit
from sandbox.client import Message, SandboxClient, button_data

DANA, LI_NA, CHEN_MING = 1_000_101, 1_000_102, 1_000_103


async def link(client: SandboxClient, payload: str) -> str:
    return deep_link((await client.bot())["username"], payload)


async def table_link(run: SandboxRun, client: SandboxClient, table: int) -> str:
    return await link(client, run.services.signer.sign(TablePayload(run.services.store.id, table)))


async def count(run: SandboxRun, table: Any) -> int:
    async with run.services.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def member_of(run: SandboxRun, telegram_id: int) -> Member | None:
    async with run.services.session_factory() as session:
        result = await session.execute(
            select(Member)
            .join(TelegramUser, Member.telegram_user_id == TelegramUser.id)  # type: ignore[arg-type]
            .where(TelegramUser.telegram_id == telegram_id)  # type: ignore[arg-type]
        )
        return result.scalar_one_or_none()


async def open_and_wait(client: SandboxClient, user_id: int, url: str) -> Message:
    before = len(await client.inbox(user_id))
    await client.open(user_id, url)
    return await client.reply_after(user_id, before)


async def pay_in_chat(
    client: SandboxClient, user_id: int, prompt: Message, amount: str
) -> dict[str, Any]:
    before = len(await client.inbox(user_id))
    await client.press(user_id, prompt["message_id"], button_data(prompt, "Pay"))
    await client.reply_after(user_id, before)
    invoice = await client.say(user_id, amount)
    assert invoice["invoice"] is not None, invoice
    return await client.pay(user_id, invoice["message_id"])


async def test_table_check_in_then_paying_in_chat_makes_a_member(
    run: SandboxRun, client: SandboxClient
) -> None:
    welcome = await open_and_wait(client, DANA, await table_link(run, client, 7))
    assert "You are at table 7" in welcome["text"]
    assert "become a member" in welcome["text"]
    assert await count(run, CheckIn) == 1
    assert await member_of(run, DANA) is None  # checking in is not joining: paying is

    before = len(await client.inbox(DANA))
    result = await pay_in_chat(client, DANA, welcome, "86,50")
    assert result["paid"] is True
    messages = await client.wait_for(DANA, lambda ms: len(ms) >= before + 5)
    texts = [m.get("text") or m.get("caption") or "" for m in messages[before:]]
    receipt = next(t for t in texts if t.startswith("Payment received"))
    assert "$86.50" in receipt
    assert "Visit #1 recorded." in receipt
    assert "+86 points · balance 86" in receipt
    card = next(m for m in messages[before:] if m.get("photo"))
    assert "you are now a member" in card["caption"]

    member = await member_of(run, DANA)
    assert member is not None
    assert (member.visit_count, member.points_balance) == (1, 86)
    assert member.total_spend == Decimal("86.50")
    assert member.acquisition_channel == "table_qr"
    async with run.services.session_factory() as session:
        payment = (await session.execute(select(Payment))).scalar_one()
        assert (payment.source, payment.amount, payment.status) == (
            "chat",
            Decimal("86.50"),
            "credited",
        )
        visit = (await session.execute(select(Visit))).scalar_one()
        assert visit.table_id is not None
        bill = (await session.execute(select(Bill))).scalar_one()
        assert bill.status == "paid"
        assert (payment.member_id, payment.visit_id, payment.points_awarded) == (
            member.id,
            visit.id,
            86,
        )
        check_in = (await session.execute(select(CheckIn))).scalar_one()
        assert check_in.payment_id == payment.id  # the payment completed the check-in


async def test_redelivered_successful_payment_credits_once(
    run: SandboxRun, client: SandboxClient
) -> None:
    await client.say(DANA, "/start")
    welcome = await open_and_wait(client, DANA, await table_link(run, client, 1))
    result = await pay_in_chat(client, DANA, welcome, "40")
    await client.wait_for(DANA, lambda ms: any("balance" in (m.get("text") or "") for m in ms))
    await client.redeliver(result["update_id"])
    await client.say(DANA, "/help")  # processed after the redelivery
    await asyncio.sleep(0.2)
    assert await count(run, Payment) == 1
    assert await count(run, PointsEntry) == 1
    member = await member_of(run, DANA)
    assert member is not None
    assert (member.visit_count, member.points_balance) == (1, 40)


async def test_second_visit_through_the_cashier(run: SandboxRun, client: SandboxClient) -> None:
    welcome = await open_and_wait(client, DANA, await table_link(run, client, 2))
    await pay_in_chat(client, DANA, welcome, "20.00")
    await client.wait_for(DANA, lambda ms: any(m.get("photo") for m in ms))
    member = await member_of(run, DANA)
    assert member is not None
    assert member.id is not None

    run.services.clock.advance(timedelta(days=6))  # type: ignore[attr-defined]
    card = await link(client, run.services.signer.sign(CardPayload(member.id)))
    shown = await open_and_wait(client, SANDBOX_CASHIER_ID, card)
    assert shown["text"].startswith("Member: Dana · Newcomer")
    assert "birthday" not in shown["text"].lower()
    bad = await client.say(SANDBOX_CASHIER_ID, "lots")
    assert bad["text"].startswith("Please send just the amount")
    confirm = await client.say(SANDBOX_CASHIER_ID, "55.20")
    assert confirm["text"] == "Record $55.20 for this member?"
    dana_before = len(await client.inbox(DANA))
    await client.press(SANDBOX_CASHIER_ID, confirm["message_id"], button_data(confirm, "Record"))
    done = await client.wait_for(
        SANDBOX_CASHIER_ID, lambda ms: ms[-1]["text"].startswith("Recorded for Dana")
    )
    assert "Visit #2 recorded." in done[-1]["text"]
    # the second visit makes Dana a returning guest: the receipt, then the congratulation
    told = await client.wait_for(DANA, lambda ms: len(ms) >= dana_before + 2)
    receipt, congratulation = told[dana_before], told[dana_before + 1]
    assert receipt["text"].startswith("Payment received: $55.20")
    assert congratulation["text"].startswith("Congratulations — you are now Returning guest!")
    assert "• a birthday gift" in congratulation["text"]
    member = await member_of(run, DANA)
    assert member is not None
    assert (member.visit_count, member.points_balance) == (2, 75)
    assert member.gap_count == 1


async def test_walk_in_claims_a_receipt(run: SandboxRun, client: SandboxClient) -> None:
    qr = await client.say(SANDBOX_CASHIER_ID, "/bill 120.40")
    assert qr["photo"] is not None
    assert qr["caption"].startswith("Receipt QR for $120.40")
    claim_url = qr["caption"].rsplit("\n", 1)[-1]
    assert await member_of(run, LI_NA) is None
    before = len(await client.inbox(LI_NA))
    await client.open(LI_NA, claim_url)
    messages = await client.wait_for(LI_NA, lambda ms: len(ms) >= before + 3)
    # Li Na's phone is in Chinese.
    assert messages[before]["text"].startswith("已收到您在Noodle Bar的付款")
    member = await member_of(run, LI_NA)
    assert member is not None
    assert (member.visit_count, member.points_balance, member.acquisition_channel) == (
        1,
        120,
        "receipt_claim",
    )
    # the same receipt again, by someone else: refused, nothing written
    payments_before = await count(run, Payment)
    used = await open_and_wait(client, CHEN_MING, claim_url)
    assert used["text"] == "此收據已被領取。"
    assert await member_of(run, CHEN_MING) is None
    assert await count(run, Payment) == payments_before


async def test_twenty_diners_scanning_one_receipt_enrol_exactly_one(
    run: SandboxRun, client: SandboxClient
) -> None:
    qr = await client.say(SANDBOX_CASHIER_ID, "/bill 30")
    claim_url = qr["caption"].rsplit("\n", 1)[-1]
    diners = [2_000_000 + i for i in range(20)]
    for diner in diners:
        await client.add_user(diner, f"Guest{diner % 100}", "en")
    await asyncio.gather(*(client.open(diner, claim_url) for diner in diners))
    replies = [
        (await client.wait_for(diner, lambda ms: len(ms) >= 1, timeout=30))[0] for diner in diners
    ]
    winners = [r for r in replies if r["text"].startswith("Payment received")]
    losers = [r for r in replies if r["text"] == "This receipt has already been claimed."]
    assert (len(winners), len(losers)) == (1, 19)
    assert await count(run, Member) == 1
    assert await count(run, Visit) == 1
    assert await count(run, PointsEntry) == 1


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("abc", "Please send just the amount"),
        ("0", "more than zero"),
        ("-5", "more than zero"),
        ("86.505", "at most 2 decimal places"),
        ("1e3", "Please send just the amount"),
        ("99999999", "the most that can be paid here"),
    ],
)
async def test_bad_amounts_get_a_clear_reprompt_and_write_nothing(
    run: SandboxRun, client: SandboxClient, text: str, says: str
) -> None:
    welcome = await open_and_wait(client, DANA, await table_link(run, client, 3))
    before = len(await client.inbox(DANA))
    await client.press(DANA, welcome["message_id"], button_data(welcome, "Pay"))
    await client.reply_after(DANA, before)
    reply = await client.say(DANA, text)
    assert says in reply["text"], reply["text"]
    assert reply["invoice"] is None
    assert await count(run, Bill) == 0
    assert await count(run, Payment) == 0
    # still waiting for a good amount
    invoice = await client.say(DANA, "12.30")
    assert invoice["invoice"]["total_amount"] == 1230


async def test_forged_altered_expired_and_reused_payloads(
    run: SandboxRun, client: SandboxClient
) -> None:
    signer = run.services.signer
    good = signer.sign(TablePayload(run.services.store.id, 4))
    altered = good[:-1] + ("A" if good[-1] != "A" else "B")
    from loyalty.qr import QRSigner

    forged = QRSigner.from_secret(b"x" * 48).sign(TablePayload(run.services.store.id, 4))
    for payload in (altered, forged, "garbage", good[:20]):
        reply = await open_and_wait(client, DANA, await link(client, payload))
        assert reply["text"].startswith("This code is not valid."), payload
    expired = signer.sign(
        ReceiptPayload(payment_id=1, expires_at=run.services.clock.now() - timedelta(minutes=1))
    )
    reply = await open_and_wait(client, DANA, await link(client, expired))
    assert reply["text"].startswith("This code has expired.")
    no_such_payment = signer.sign(
        ReceiptPayload(payment_id=999, expires_at=run.services.clock.now() + timedelta(minutes=5))
    )
    reply = await open_and_wait(client, DANA, await link(client, no_such_payment))
    assert reply["text"] == "This receipt is not valid. Please ask the cashier."
    unknown_table = signer.sign(TablePayload(run.services.store.id, 99))
    reply = await open_and_wait(client, DANA, await link(client, unknown_table))
    assert reply["text"].startswith("This code is not valid.")
    assert await count(run, CheckIn) == 0
    assert await count(run, Payment) == 0
    assert await count(run, Member) == 0
