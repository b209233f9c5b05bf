"""Standing perks (issue 17, part 4; seed 001's C grade: "a beer or 10 % off each time")
through the emulator: the cashier sees the perk when scanning the card, a bill paid in chat is
reduced by it and the perk is recorded with the payment (one per bill), and /stats reports it
per tier."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.sandbox_run import SANDBOX_CASHIER_ID, SANDBOX_OWNER_ID, SandboxRun, sandbox
from loyalty.qr import CardPayload
from models.tables import Bill, Payment, PerkUse
from sandbox.client import SandboxClient, button_data
from tests.app.test_pay import link, member_of, open_and_wait

DANA = 1_000_101

POLICY = """preset = "frequency"
[treatments.occasional]
perk = { kind = "percent", value = 10, cap = 50 }
"""


@pytest.fixture
async def perk_run(sandbox_settings: Settings, tmp_path: Path) -> AsyncIterator[SandboxRun]:
    """The frequency preset where returning guests (two visits) get 10 % off, at most $50."""
    file = tmp_path / "perks.toml"
    file.write_text(POLICY)
    settings = sandbox_settings.model_copy(update={"policy_file": file})
    async with sandbox(settings, port=0) as running:
        yield running


async def pay_by_command(client: SandboxClient, who: int, amount: str) -> dict[str, object]:
    """/pay, the amount, the invoice paid; the invoice message."""
    await client.say(who, "/pay")
    before = len(await client.inbox(who))
    await client.say(who, amount)
    # the invoice, whatever else the bot says meanwhile (a scheduled job's message may come first)
    answers = await client.wait_for(
        who, lambda ms: any(m.get("invoice") for m in ms[before:]), what="the invoice"
    )
    invoice = next(m for m in answers[before:] if m.get("invoice"))
    before = len(await client.inbox(who))
    await client.pay(who, invoice["message_id"])
    await client.wait_for(
        who,
        lambda ms: any((m.get("text") or "").startswith("Payment received") for m in ms[before:]),
    )
    return invoice


def days(run: SandboxRun, n: float) -> None:
    """Move the clock without running the jobs."""
    run.services.clock.advance(timedelta(days=n))  # type: ignore[attr-defined]


async def test_a_returning_guest_paying_in_chat_gets_the_perk_and_the_cashier_sees_it(
    perk_run: SandboxRun,
) -> None:
    run = perk_run
    async with SandboxClient(run.url) as client:
        await client.add_user(DANA, "Dana", started=True)
        first = await pay_by_command(client, DANA, "40")  # a newcomer: no perk
        assert first["invoice"]["total_amount"] == 4000  # type: ignore[index]
        days(run, 3)
        second = await pay_by_command(client, DANA, "30")  # this visit makes her returning
        assert second["invoice"]["total_amount"] == 3000  # type: ignore[index]
        member = await member_of(run, DANA)
        assert member is not None
        assert member.id is not None
        assert member.tier == "occasional"
        # the congratulation names the perk among what is new for her
        cheered = await client.wait_for(
            DANA, lambda ms: any((m.get("text") or "").startswith("Congratulations") for m in ms)
        )
        congratulation = next(
            m["text"] for m in cheered if (m.get("text") or "").startswith("Congratulations")
        )
        assert "• 10% off every bill, up to $50.00" in congratulation

        # the cashier scans her card: the perk is on the screen with her name and tier
        days(run, 3)
        card = await link(client, run.services.signer.sign(CardPayload(member.id)))
        shown = await open_and_wait(client, SANDBOX_CASHIER_ID, card)
        assert shown["text"].startswith("Member: Dana · Returning guest")
        assert "Standing perk: 10% off every bill, up to $50.00." in shown["text"]
        # she pays $50 at the counter: the cashier records $45, the perk with the payment
        confirm = await client.say(SANDBOX_CASHIER_ID, "50")
        assert confirm["text"] == (
            "Bill $50.00 less the standing perk of $5.00.\nRecord $45.00 for this member?"
        )
        await client.press(
            SANDBOX_CASHIER_ID, confirm["message_id"], button_data(confirm, "Record")
        )
        await client.wait_for(
            SANDBOX_CASHIER_ID, lambda ms: ms[-1]["text"].startswith("Recorded for Dana")
        )
        days(run, 3)

        # paying in chat, the bill is 10 % less, and the receipt says why
        before = len(await client.inbox(DANA))
        third = await pay_by_command(client, DANA, "86.50")
        assert third["invoice"]["total_amount"] == 7785  # type: ignore[index]
        assert "after your standing perk of $8.65" in third["invoice"]["description"]  # type: ignore[index]
        texts = [m.get("text") or "" for m in (await client.inbox(DANA))[before:]]
        receipt = next(t for t in texts if t.startswith("Payment received"))
        assert "Payment received: $77.85" in receipt
        assert "Your standing perk: $8.65 off." in receipt

        async with run.services.session_factory() as session:
            payments = (await session.execute(select(Payment).order_by(Payment.id))).scalars()  # type: ignore[arg-type]
            paid = list(payments)
            uses = list((await session.execute(select(PerkUse).order_by(PerkUse.id))).scalars())  # type: ignore[arg-type]
            bills = list((await session.execute(select(Bill).order_by(Bill.id))).scalars())  # type: ignore[arg-type]
        assert [p.amount for p in paid] == [Decimal(40), Decimal(30), Decimal(45), Decimal("77.85")]
        # one perk per bill: at the counter, and in chat with the bill it was taken off
        assert [(u.payment_id, u.discount) for u in uses] == [
            (paid[2].id, Decimal(5)),
            (paid[3].id, Decimal("8.65")),
        ]
        use = uses[1]
        assert (use.tier, use.kind, use.discount, use.status) == (
            "occasional",
            "percent",
            Decimal("8.65"),
            "used",
        )
        assert (use.payment_id, use.bill_id) == (paid[-1].id, bills[-1].id)

        # the owner's /stats: the perks given, per tier
        before = len(await client.inbox(SANDBOX_OWNER_ID))
        await client.send(SANDBOX_OWNER_ID, "/stats")
        messages = await client.wait_for(
            SANDBOX_OWNER_ID, lambda ms: any(m["photo"] for m in ms[before:]), what="the chart"
        )
        report = "\n".join(m.get("text") or "" for m in messages[before:])
        assert "Standing perks given, by tier (bills · taken off):" in report
        assert "• Returning guest: 2 · $13.65" in report.split("\n")
