"""Coupons through the emulator: a manager's gift, the wallet, redemption at the counter by
code and by QR, and a coupon applied when paying in chat."""

from __future__ import annotations

import re
from decimal import Decimal

from sqlalchemy import select

from bot.sandbox_run import SANDBOX_CASHIER_ID, SANDBOX_OWNER_ID, SandboxRun
from loyalty.channels import Channel
from loyalty.payments import Payer, PaymentSource, StoreRef, record_payment
from models.tables import Coupon
from sandbox.client import SandboxClient, button_data
from tests.app.test_pay import DANA, LI_NA, member_of, open_and_wait, table_link


async def enrol(run: SandboxRun, who: int, name: str) -> int:
    services = run.services
    async with services.session_factory() as session, session.begin():
        outcome = await record_payment(
            session,
            source=PaymentSource.POS,
            external_id=f"enrol-{who}",
            store=StoreRef(id=services.store.id, timezone=services.store.timezone),
            amount=Decimal(40),
            currency="USD",
            payer=Payer(telegram_id=who, first_name=name, channel=Channel.CHAT),
            policy=services.policy,
            now=services.clock.now(),
        )
    return outcome.member_id


async def test_gift_wallet_and_redemption_by_code(run: SandboxRun, client: SandboxClient) -> None:
    await client.say(DANA, "/start")
    dana = await enrol(run, DANA, "Dana")
    # a diner cannot gift; the manager (the sandbox owner) can
    refused = await client.say(DANA, f"/gift {dana} twenty_off_100")
    assert refused["text"] == "Sorry, this is only for the restaurant's staff."
    before = len(await client.inbox(DANA))
    sent = await client.say(SANDBOX_OWNER_ID, f"/gift {dana} twenty_off_100")
    assert sent["text"].startswith(f"Gift sent to member #{dana}: $20.00 off (bill of $100.00")
    told = await client.reply_after(DANA, before)
    assert told["text"].startswith(
        "Noodle Bar sent you a gift: $20.00 off (bill of $100.00 or more)"
    )

    wallet = await client.say(DANA, "/wallet")
    assert "Points: 40" in wallet["text"]
    assert "• $20.00 off (bill of $100.00 or more) — valid until" in wallet["text"]
    before = len(await client.inbox(DANA))
    await client.press(DANA, wallet["message_id"], button_data(wallet, "Use:"))
    qr = await client.reply_after(DANA, before)
    assert qr["photo"], qr
    code = re.search(r"read out the code (\d{6})", qr["caption"])
    assert code is not None, qr["caption"]

    wrong = await client.say(SANDBOX_CASHIER_ID, "/redeem 12345")
    assert wrong["text"].startswith("No coupon has this code")
    seen = await client.say(SANDBOX_CASHIER_ID, f"/redeem {code.group(1)}")
    assert seen["text"].startswith("Coupon: $20.00 off (bill of $100.00 or more)")
    assert "For: Dana · " in seen["text"]
    low = await client.say(SANDBOX_CASHIER_ID, "80")
    assert low["text"].startswith("The bill must be at least $100.00 for this coupon")
    confirm = await client.say(SANDBOX_CASHIER_ID, "126.50")
    assert confirm["text"] == "Bill $126.50 − coupon $20.00 = $106.50. Redeem the coupon?"
    before = len(await client.inbox(DANA))
    await client.press(SANDBOX_CASHIER_ID, confirm["message_id"], button_data(confirm, "Redeem"))
    done = await client.wait_for(
        SANDBOX_CASHIER_ID, lambda ms: ms[-1]["text"].startswith("Redeemed:")
    )
    assert done[-1]["text"].startswith("Redeemed: $20.00 off (bill of $100.00 or more). $106.50")
    receipt = await client.reply_after(DANA, before)
    assert receipt["text"].startswith("Payment received: $106.50 at Noodle Bar.")
    assert "Coupon applied: $20.00 off." in receipt["text"]
    # the same code again: already used
    again = await client.say(SANDBOX_CASHIER_ID, f"/redeem {code.group(1)}")
    assert again["text"].startswith("No coupon has this code")
    wallet = await client.say(DANA, "/wallet")
    assert "No coupons right now." in wallet["text"]


async def test_a_coupon_applied_when_paying_in_chat(run: SandboxRun, client: SandboxClient) -> None:
    li_na = await enrol(run, LI_NA, "李娜")
    before = len(await client.inbox(SANDBOX_OWNER_ID))
    await client.send(SANDBOX_OWNER_ID, f"/gift {li_na} ten_off")
    told = await client.wait_for(  # she never opened the chat: the bot cannot write first
        SANDBOX_OWNER_ID,
        lambda ms: bool(ms) and ms[-1]["text"].startswith("The member could not be told"),
    )
    assert [m["text"][:22] for m in told[before:]] == [
        f"Gift sent to member #{li_na}"[:22],
        "The member could not b",
    ]
    assert "the coupon is in their /wallet" in told[-1]["text"]
    await client.say(LI_NA, "/start")
    prompt = await open_and_wait(client, LI_NA, await table_link(run, client, 3))
    before = len(await client.inbox(LI_NA))
    await client.press(LI_NA, prompt["message_id"], button_data(prompt, "付"))
    await client.reply_after(LI_NA, before)
    choice = await client.say(LI_NA, "86.50")
    assert choice["text"] == "这笔 US$86.50 的账单要使用优惠券吗？"
    invoice_before = len(await client.inbox(LI_NA))
    await client.press(LI_NA, choice["message_id"], button_data(choice, "减 US$10.00"))
    invoice = await client.reply_after(LI_NA, invoice_before)
    assert invoice["invoice"]["total_amount"] == 7650  # 86.50 − 10.00, in cents
    paid_before = len(await client.inbox(LI_NA))
    await client.pay(LI_NA, invoice["message_id"])
    receipt = await client.reply_after(LI_NA, paid_before)
    assert receipt["text"].startswith("已收到您在Noodle Bar的付款：US$76.50。")
    assert "已使用优惠券：减 US$10.00。" in receipt["text"]
    member = await member_of(run, LI_NA)
    assert member is not None
    async with run.services.session_factory() as session:
        coupon = (await session.execute(select(Coupon))).scalars().one()  # one coupon per bill
        assert (coupon.status, coupon.bill_amount, coupon.discount) == (
            "redeemed",
            Decimal("86.50"),
            Decimal(10),
        )
        assert coupon.payment_id is not None
    wallet = await client.say(LI_NA, "/wallet")
    assert "目前没有优惠券。" in wallet["text"]


async def test_redemption_by_scanning_the_qr_and_the_coupon_at_check_in(
    run: SandboxRun, client: SandboxClient
) -> None:
    await client.say(DANA, "/start")
    dana = await enrol(run, DANA, "Dana")
    await client.say(SANDBOX_OWNER_ID, f"/gift {dana} ten_percent")
    await client.wait_for(DANA, lambda ms: "sent you a gift" in (ms[-1]["text"] or ""))
    welcome = await open_and_wait(client, DANA, await table_link(run, client, 2))
    assert "You have 1 coupon to use on this bill: /wallet" in welcome["text"]
    wallet = await client.say(DANA, "/wallet")
    assert "• 10% off, up to $50.00 — valid until" in wallet["text"]
    before = len(await client.inbox(DANA))
    await client.press(DANA, wallet["message_id"], button_data(wallet, "Use:"))
    qr = await client.reply_after(DANA, before)
    scan = qr["caption"].rsplit("\n", 1)[-1]
    # the guest opening their own coupon QR is told to show it; nothing happens
    mine = await open_and_wait(client, DANA, scan)
    assert mine["text"] == "This is a coupon: show it at the counter, the cashier scans it."
    seen = await open_and_wait(client, SANDBOX_CASHIER_ID, scan)
    assert seen["text"].startswith("Coupon: 10% off, up to $50.00")
    confirm = await client.say(SANDBOX_CASHIER_ID, "86.55")
    # 10 % of 86.55 is 8.655: the discount is rounded down to the cent
    assert confirm["text"] == "Bill $86.55 − coupon $8.65 = $77.90. Redeem the coupon?"
    before = len(await client.inbox(DANA))
    await client.press(SANDBOX_CASHIER_ID, confirm["message_id"], button_data(confirm, "Redeem"))
    receipt = await client.reply_after(DANA, before)
    assert receipt["text"].startswith("Payment received: $77.90 at Noodle Bar.")
    # scanning the used QR again: refused, nothing written
    used = await open_and_wait(client, SANDBOX_CASHIER_ID, scan)
    assert used["text"] == "This coupon has already been used."
