"""The staff console's records through the emulator and the real dispatcher: `/export` delivers
CSV documents that hold what was recorded (downloaded and parsed as a manager's spreadsheet
would), personal data only for whom it is meant; `/audit` shows the staff's actions newest
first, to owners only; a refused action leaves no audit line."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from sqlalchemy import func, select, update
from sqlmodel import col

from bot.config import Settings
from bot.sandbox_run import SANDBOX_CASHIER_ID, SANDBOX_OWNER_ID, SandboxRun, sandbox
from loyalty.qr import CardPayload
from models import queries
from models.tables import AuditLog, Member, Payment, Role
from sandbox.client import Message, SandboxClient, button_data
from tests.app.staffing import hire, member_of_another_store
from tests.app.test_pay import DANA, LI_NA, link, open_and_wait
from tests.app.test_wallet import enrol
from ui.keyboards.audit import AuditNav

MONA = 1_000_201  # a manager
Rows = list[dict[str, str]]


def advance(run: SandboxRun, days: float) -> None:
    run.services.clock.advance(timedelta(days=days))  # type: ignore[attr-defined]


async def make_manager(run: SandboxRun, client: SandboxClient) -> None:
    await hire(run, client, MONA, "Mona", Role.MANAGER)


async def audit_count(run: SandboxRun) -> int:
    async with run.services.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(AuditLog)) or 0)


PERIOD_CAPTIONS = {
    "report": "Figures by period",
    "months": "By month",
    "cohorts": "Cohorts",
    "campaigns": "Campaigns by kind",
}


async def export_files(run: SandboxRun, client: SandboxClient, who: int) -> dict[str, Rows]:
    """Send /export as `who`; download the eight documents (the records, then the period
    reports of the last 3 months); parse each CSV by its name."""
    before = len(await client.inbox(who))
    await client.send(who, "/export")
    messages = await client.wait_for(who, lambda ms: len(ms) >= before + 9)
    intro, *documents = messages[before : before + 9]
    assert intro["text"].startswith("Your export: 8 CSV files")
    files: dict[str, Rows] = {}
    for message in documents:
        document = message["document"]
        assert document is not None, message
        async with client.session.get(f"{run.url}/sandbox/files/{document['file_id']}") as resp:
            assert resp.status == 200
            data = await resp.read()
        assert data.startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads UTF-8 names right
        kind = document["file_name"].split("-", 1)[0]
        files[kind] = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
        rows = len(files[kind])
        name = PERIOD_CAPTIONS.get(kind, kind.capitalize())
        assert message["caption"] == f"{name}: {rows} row{'s' if rows != 1 else ''}"
    assert sorted(files) == [
        "campaigns",
        "cohorts",
        "coupons",
        "members",
        "months",
        "payments",
        "report",
        "visits",
    ]
    return files


async def counter_payment(
    run: SandboxRun, client: SandboxClient, member_id: int, amount: str
) -> int:
    """The cashier scans the member's card and records `amount`; the payment's id."""
    card = await link(client, run.services.signer.sign(CardPayload(member_id)))
    await open_and_wait(client, SANDBOX_CASHIER_ID, card)
    confirm = await client.say(SANDBOX_CASHIER_ID, amount)
    await client.press(SANDBOX_CASHIER_ID, confirm["message_id"], button_data(confirm, "Record"))
    done = await client.wait_for(
        SANDBOX_CASHIER_ID, lambda ms: ms[-1]["text"].startswith("Recorded for")
    )
    found = re.search(r"payment #(\d+)", done[-1]["text"])
    assert found is not None
    return int(found.group(1))


async def redeem_gift(client: SandboxClient, bill: str) -> None:
    """Dana taps Use on her coupon; the cashier types her code and confirms the bill."""
    wallet = await client.say(DANA, "/wallet")
    before = len(await client.inbox(DANA))
    await client.press(DANA, wallet["message_id"], button_data(wallet, "Use:"))
    qr = await client.reply_after(DANA, before)
    code = re.search(r"read out the code (\d{6})", qr["caption"])
    assert code is not None
    await client.say(SANDBOX_CASHIER_ID, f"/redeem {code.group(1)}")
    confirm = await client.say(SANDBOX_CASHIER_ID, bill)
    await client.press(SANDBOX_CASHIER_ID, confirm["message_id"], button_data(confirm, "Redeem"))
    await client.wait_for(SANDBOX_CASHIER_ID, lambda ms: ms[-1]["text"].startswith("Redeemed:"))


def audit_lines(message: Message) -> list[str]:
    text: str = message["text"]
    assert text.startswith("Audit log, newest first (UTC time):"), text
    return text.split("\n")[2:]


async def test_owner_export_holds_what_was_recorded_and_audit_lists_the_staff_actions(
    run: SandboxRun, client: SandboxClient
) -> None:
    services = run.services
    await client.say(DANA, "/start")
    dana = await enrol(run, DANA, "Dana")  # the POS enrols her with 40.00: no staff action
    li_na = await enrol(run, LI_NA, "李娜")
    async with services.session_factory() as session, session.begin():
        await session.execute(
            update(Member).where(col(Member.id) == dana).values(birthday=date(1990, 5, 17))
        )

    advance(run, 1)
    counter = await counter_payment(run, client, dana, "55.20")
    walk_in = await client.say(SANDBOX_CASHIER_ID, "/bill 12.30")
    assert walk_in["caption"].startswith("Receipt QR for $12.30")
    gift = await client.say(SANDBOX_OWNER_ID, f"/gift {dana} twenty_off_100")
    assert gift["text"].startswith(f"Gift sent to member #{dana}")
    await client.wait_for(DANA, lambda ms: "sent you a gift" in (ms[-1]["text"] or ""))
    advance(run, 1)
    await redeem_gift(client, "126.50")
    refunded = await client.say(SANDBOX_OWNER_ID, f"/refund {counter}")
    assert refunded["text"].startswith(f"Payment #{counter} refunded.")

    # a refused action writes no audit line
    lines_before = await audit_count(run)
    unknown = await client.say(SANDBOX_OWNER_ID, "/refund 9999")
    assert unknown["text"] == "There is no payment with that number."
    assert await audit_count(run) == lines_before

    shown = await client.say(SANDBOX_OWNER_ID, "/audit")
    lines = audit_lines(shown)
    assert [line.split(" · ", 1)[1].split(" (")[0] for line in lines] == [
        f"{SANDBOX_OWNER_ID} · refunded a payment",
        "Carlos · redeemed a coupon at the counter",
        f"{SANDBOX_OWNER_ID} · gave a coupon as a gift",
        "Carlos · issued a receipt QR for a walk-in payment",
        "Carlos · recorded a payment at the counter",
        f"{SANDBOX_OWNER_ID} · gave a staff role",  # the sandbox's cashier, at start
    ]
    # local time in the store's zone (UTC here), as Babel writes it for English
    assert re.match(r"[A-Z][a-z]{2} \d{1,2}, \d{4} \d{1,2}:\d{2}\s[AP]M · ", lines[0]), lines[0]
    assert f"(payment={counter} amount=55.20 USD)" in lines[0]
    assert f"(payment={counter} member={dana} amount=55.20 USD source=cashier)" in lines[4]
    assert shown["reply_markup"] is None  # one page: no Older / Newer

    files = await export_files(run, client, SANDBOX_OWNER_ID)
    members = {int(r["member_id"]): r for r in files["members"]}
    assert set(members) == {dana, li_na}
    assert (members[dana]["display_name"], members[dana]["birthday"]) == ("Dana", "1990-05-17")
    assert members[li_na]["display_name"] == "李娜"
    # 40.00 + 55.20 (refunded) + 106.50 (126.50 less the coupon's 20.00)
    assert members[dana]["total_spend"] == "146.50"
    assert members[dana]["currency"] == "USD"

    payments = {int(r["payment_id"]): r for r in files["payments"]}
    # two enrolments, the counter payment, the walk-in's receipt, the redemption's payment
    assert sorted((r["amount"], r["status"], r["source"]) for r in files["payments"]) == [
        ("106.50", "credited", "cashier"),
        ("12.30", "awaiting_claim", "receipt"),
        ("40.00", "credited", "pos"),
        ("40.00", "credited", "pos"),
        ("55.20", "refunded", "cashier"),
    ]
    assert payments[counter]["status"] == "refunded"
    assert payments[counter]["amount"] == "55.20"
    assert payments[counter]["refunded_at"].endswith("+00:00")
    async with services.session_factory() as session:
        recorded = (await session.execute(select(Payment).order_by(col(Payment.id)))).scalars()
        for payment in recorded:
            row = payments.pop(payment.id)  # type: ignore[arg-type]
            assert Decimal(row["amount"]) == payment.amount
            assert row["status"] == payment.status
            assert row["created_at"] == payment.created_at.isoformat(timespec="seconds")
    assert payments == {}

    visits = files["visits"]
    voided = [v for v in visits if v["voided_at"]]
    assert [v["payment_id"] for v in voided] == [str(counter)]  # the refund voided its visit
    assert {v["member_id"] for v in visits} == {str(dana), str(li_na)}

    (coupon,) = files["coupons"]
    assert (coupon["member_id"], coupon["template"], coupon["status"]) == (
        str(dana),
        "twenty_off_100",
        "redeemed",
    )
    assert (coupon["value"], coupon["min_spend"], coupon["bill_amount"], coupon["discount"]) == (
        "20.00",
        "100.00",
        "126.50",
        "20.00",
    )
    assert coupon["campaign"] == "gift"
    assert "code" not in coupon

    # the period reports of the last 3 months: the same payments, counted as /stats does
    report = {(r["figure"], r["detail"]): r for r in files["report"]}
    assert report[("members_gained", "")]["value"] == "2"
    assert report[("members_gained", "")]["previous_value"] == "0"
    assert report[("visits", "")]["value"] == "3"  # two enrolments and the redemption's visit
    assert report[("member_revenue", "")]["value"] == "186.50"  # 40 + 40 + 106.50
    assert report[("average_ticket", "first_visits")]["value"] == "40.00"
    assert report[("average_ticket", "later_visits")]["value"] == "106.50"
    assert report[("coupons_redeemed", "gift")]["value"] == "1"
    assert {r["store_id"] for r in files["report"]} == {str(services.store.id)}
    (joined,) = [m for m in files["months"] if m["members_gained"] != "0"]
    assert joined["members_gained"] == "2"
    assert sum(int(m["bills"]) for m in files["months"]) == 3
    assert sum(Decimal(m["revenue"]) for m in files["months"]) == Decimal("186.50")
    cohort = files["cohorts"][0]  # (a month later, if the days crossed into one, too)
    assert (cohort["joined_month"], cohort["members"], cohort["months_since"]) == (
        joined["month"],
        "2",
        "0",
    )
    assert (cohort["came"], cohort["share_pct"]) == ("2", "100.0")
    assert files["campaigns"] == []  # nothing was sent to many members

    # the export itself is in the audit log, at the top
    shown = await client.say(SANDBOX_OWNER_ID, "/audit")
    top = audit_lines(shown)[0]
    assert f"· {SANDBOX_OWNER_ID} · exported the data as CSV files (stores=all personal=yes" in top
    assert "members=2 visits=" in top


async def test_a_manager_gets_no_personal_data_and_no_audit_log(
    run: SandboxRun, client: SandboxClient
) -> None:
    await client.say(DANA, "/start")
    dana = await enrol(run, DANA, "Dana")
    async with run.services.session_factory() as session, session.begin():
        await session.execute(
            update(Member).where(col(Member.id) == dana).values(birthday=date(1990, 5, 17))
        )
    # a second store the manager does not manage, with a member of its own
    await member_of_another_store(run, LI_NA, "李娜")
    await make_manager(run, client)
    files = await export_files(run, client, MONA)
    (member,) = files["members"]  # only the manager's store
    assert "display_name" not in member
    assert "birthday" not in member
    assert "Dana" not in str(files)
    assert "1990-05-17" not in str(files)
    assert (member["member_id"], member["total_spend"], member["visit_count"]) == (
        str(dana),
        "40.00",
        "1",
    )
    inbox = await client.inbox(MONA)
    assert any(
        (m["text"] or "").endswith(
            "Names and birthdays are left out: the policy keeps them from managers."
        )
        for m in inbox
    )
    # the audit log is the owners'
    refused = await client.say(MONA, "/audit")
    assert refused["text"] == "Sorry, this is only for the restaurant's staff."
    async with run.services.session_factory() as session:
        exports = (
            (await session.execute(select(AuditLog).where(col(AuditLog.action) == "export")))
            .scalars()
            .all()
        )
    assert [(a.actor_telegram_id, a.detail.split(" members=")[0]) for a in exports] == [
        (MONA, f"stores={run.services.store.id} personal=no")
    ]
    assert [r["amount"] for r in files["payments"]] == ["40.00"]
    # the owner's export has every store
    everything = await export_files(run, client, SANDBOX_OWNER_ID)
    assert sorted(r["amount"] for r in everything["payments"]) == ["40.00", "9.90"]
    assert sorted(r["display_name"] for r in everything["members"]) == ["Dana", "李娜"]


@pytest.mark.parametrize("who", [DANA, SANDBOX_CASHIER_ID])
async def test_diners_and_cashiers_cannot_export(
    run: SandboxRun, client: SandboxClient, who: int
) -> None:
    await client.say(who, "/start")
    lines_before = await audit_count(run)
    refused = await client.say(who, "/export")
    assert refused["text"] == "Sorry, this is only for the restaurant's staff."
    # the refusal is sent once the handler has ended: a document would be in the chat by now
    inbox = await client.inbox(who)
    assert not any(m["document"] for m in inbox)
    assert await audit_count(run) == lines_before


@pytest.fixture
async def open_run(sandbox_settings: Settings, tmp_path: Path) -> AsyncIterator[SandboxRun]:
    """A sandbox whose policy lets managers see personal data in exports."""
    file = tmp_path / "open.toml"
    file.write_text('preset = "frequency"\n\n[export]\nmanagers_see_personal_data = true\n')
    settings = sandbox_settings.model_copy(update={"policy_file": file})
    async with sandbox(settings, port=0) as running:
        yield running


async def test_a_manager_gets_names_when_the_policy_allows_except_of_erased_members(
    open_run: SandboxRun,
) -> None:
    run = open_run
    async with SandboxClient(run.url) as client:
        await client.say(DANA, "/start")
        dana = await enrol(run, DANA, "Dana")
        li_na = await enrol(run, LI_NA, "李娜")
        async with run.services.session_factory() as session, session.begin():
            await session.execute(
                update(Member).where(col(Member.id) == dana).values(birthday=date(1990, 5, 17))
            )
            # Li Na's row is marked erased with her name still on it: the export must not rely
            # on the erasure having cleared every field
            await session.execute(
                update(Member)
                .where(col(Member.id) == li_na)
                .values(erased_at=run.services.clock.now(), birthday=date(1992, 1, 2))
            )
        await make_manager(run, client)
        files = await export_files(run, client, MONA)
    members = {int(r["member_id"]): r for r in files["members"]}
    assert (members[dana]["display_name"], members[dana]["birthday"]) == ("Dana", "1990-05-17")
    assert members[li_na]["erased_at"] != ""
    assert (members[li_na]["display_name"], members[li_na]["birthday"]) == ("", "")


async def test_audit_pages_older_and_newer_and_only_an_owner_turns_them(
    run: SandboxRun, client: SandboxClient
) -> None:
    services = run.services
    async with services.session_factory() as session, session.begin():
        for n in range(1, 25):
            await queries.add_audit(
                session,
                actor_telegram_id=SANDBOX_CASHIER_ID,
                action="mystery.action" if n == 24 else "coupon.gift",
                detail=f"n={n}",
                now=services.clock.now(),
            )
    # 25 lines: the cashier's grant at start, then n=1..24
    first = await client.say(SANDBOX_OWNER_ID, "/audit")
    lines = audit_lines(first)
    assert len(lines) == 20
    assert lines[0].endswith("· Carlos · mystery.action (n=24)")  # unknown keys shown raw
    assert lines[-1].endswith("· Carlos · gave a coupon as a gift (n=5)")
    with pytest.raises(Exception, match="no button"):
        button_data(first, "Newer")
    older = button_data(first, "Older")

    # a diner holding the same button (forwarded, forged, stale) is refused; nothing changes
    await client.say(DANA, "/start")
    sent = await run.bot.send_message(DANA, "…", reply_markup=first_keyboard(older))
    refused = await press(client, DANA, sent.message_id, older)
    assert refused == {
        "text": "Sorry, this is only for the restaurant's staff.",
        "show_alert": True,
    }
    assert (await client.inbox(SANDBOX_OWNER_ID))[-1]["text"] == first["text"]
    dana_last = (await client.inbox(DANA))[-1]
    assert (dana_last["text"], dana_last["edited"]) == ("…", False)

    # the owner turns the page: the five oldest, then back to the newest
    await press(client, SANDBOX_OWNER_ID, first["message_id"], older)
    page = await client.wait_for(SANDBOX_OWNER_ID, lambda ms: ms[-1]["edited"])
    second = page[-1]
    lines = audit_lines(second)
    assert len(lines) == 5
    assert lines[0].endswith("(n=4)")
    assert lines[-1].split(" · ", 1)[1].startswith(f"{SANDBOX_OWNER_ID} · gave a staff role")
    with pytest.raises(Exception, match="no button"):
        button_data(second, "Older")
    await press(client, SANDBOX_OWNER_ID, second["message_id"], button_data(second, "Newer"))
    page = await client.wait_for(
        SANDBOX_OWNER_ID, lambda ms: "mystery.action" in (ms[-1]["text"] or "")
    )
    assert audit_lines(page[-1]) == audit_lines(first)


def first_keyboard(data: str) -> InlineKeyboardMarkup:
    assert AuditNav.unpack(data).older_than > 0
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="◀ Older", callback_data=data)]]
    )


async def press(client: SandboxClient, user_id: int, message_id: int, data: str) -> Any:
    body = await client.request(
        "POST",
        f"/sandbox/users/{user_id}/press",
        {"message_id": message_id, "data": data, "wait": 5},
    )
    return body["answer"]
