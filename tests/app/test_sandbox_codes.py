"""The sandbox run registers the codes it prints (tables, members' cards, coupons at the counter)
with the emulator, so the web chat can list them and label a scan."""

from __future__ import annotations

import re
from typing import Any

from bot.sandbox_run import SANDBOX_CASHIER_ID, SANDBOX_OWNER_ID, SandboxRun
from sandbox.client import SandboxClient, button_data
from tests.app.test_pay import DANA
from tests.app.test_wallet import enrol


def _of(codes: list[dict[str, str]], kind: str) -> list[dict[str, str]]:
    return [code for code in codes if code["kind"] == kind]


async def _last_opened(client: SandboxClient, who: int) -> dict[str, Any]:
    opened = [m["opened"] for m in await client.history(who) if m.get("opened")]
    assert opened, f"no link opened by {who}"
    last: dict[str, Any] = opened[-1]
    return last


async def test_tables_cards_and_coupons_to_scan(run: SandboxRun, client: SandboxClient) -> None:
    codes = await client.codes()
    assert [c["label"] for c in _of(codes, "table")] == [
        f"Table {number} at Noodle Bar" for number in range(1, 13)
    ]
    assert [c["kind"] for c in codes] == ["table"] * 12  # nobody has joined yet

    # A diner scans table 3: the bot checks her in, the chat shows what she scanned.
    table3 = _of(codes, "table")[2]
    before = len(await client.inbox(DANA))
    await client.open(DANA, table3["url"])
    welcome = await client.reply_after(DANA, before)
    assert "table 3" in welcome["text"].lower()
    assert await _last_opened(client, DANA) == {
        "payload": table3["payload"],
        "label": "Table 3 at Noodle Bar",
        "kind": "table",
    }

    # Once she is a member, her card is a code the cashier can scan.
    dana = await enrol(run, DANA, "Dana")
    (card,) = _of(await client.codes(), "card")
    assert card["label"] == "Dana's member card"
    before = len(await client.inbox(SANDBOX_CASHIER_ID))
    await client.open(SANDBOX_CASHIER_ID, card["url"])
    shown = await client.reply_after(SANDBOX_CASHIER_ID, before)
    assert "Dana" in shown["text"]
    assert (await _last_opened(client, SANDBOX_CASHIER_ID))["label"] == "Dana's member card"

    # A coupon she asks to use is listed while it is valid, with the very link of its QR.
    before = len(await client.inbox(DANA))
    await client.say(SANDBOX_OWNER_ID, f"/gift {dana} twenty_off_100")
    await client.reply_after(DANA, before)  # "Noodle Bar sent you a gift"
    wallet = await client.say(DANA, "/wallet")
    before = len(await client.inbox(DANA))
    await client.press(DANA, wallet["message_id"], button_data(wallet, "Use:"))
    qr = await client.reply_after(DANA, before)
    short_code = re.search(r"read out the code (\d{6})", qr["caption"])
    assert short_code is not None
    (coupon,) = _of(await client.codes(), "coupon")
    assert coupon["label"] == f"Dana's coupon, code {short_code.group(1)}"
    assert coupon["url"] in qr["caption"]
    await client.open(SANDBOX_CASHIER_ID, coupon["url"])
    assert (await _last_opened(client, SANDBOX_CASHIER_ID))["label"] == coupon["label"]

    await client.advance_clock(24 * 3600)  # the coupon's QR has expired
    assert _of(await client.codes(), "coupon") == []
