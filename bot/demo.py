"""`regulars demo`: a scripted story through the real dispatcher and the emulator over HTTP.

It prints a readable transcript and the final counts, and exits non-zero when any step does not
see what a person would expect. The story is :data:`STEPS`, run in order: one small function a
step, each acting through the :class:`Story`. Each feature adds its journey there.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.numbers import get_currency_precision
from sqlalchemy import func, select
from sqlmodel import col

from bot.config import Settings
from bot.demo_crowd import Crowd
from bot.sandbox_run import SANDBOX_CASHIER_ID, SandboxRun, sandbox
from loyalty.qr import CardPayload, deep_link
from models import queries
from models.tables import Member, OutboxMessage
from sandbox.client import Message, SandboxClient, SandboxError, button_data
from ui.formatting import format_money

DANA, LI_NA, CHEN_MING = 1_000_101, 1_000_102, 1_000_103
DINERS = (DANA, LI_NA, CHEN_MING)


class StepFailed(Exception):
    pass


Step = Callable[["Story"], Awaitable[None]]
"""One step of the story: acts through the Story, raises StepFailed when a person would not see
what they expect."""


class Story:
    """The demo's people and what they see; the steps below act through it."""

    def __init__(
        self,
        run: SandboxRun,
        client: SandboxClient,
        names: dict[int, str],
        *,
        crowd: Crowd,
        quiet: bool,
    ) -> None:
        self.run = run
        self.client = client
        self.names = names
        self.crowd = crowd
        self.quiet = quiet
        self.steps = 0
        self.failures: list[str] = []

    def say(self, line: str) -> None:
        if not self.quiet:
            print(line, flush=True)

    def show(self, user_id: int, message: Message) -> None:
        text = str(message.get("text") or message.get("caption") or "")
        buttons = [
            button["text"]
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
            for button in row
        ]
        invoice = message.get("invoice")
        if invoice:  # Telegram draws an invoice as a card with its own Pay button
            total = invoice_total(message)
            text = f"🧾 {invoice.get('title')} — {invoice.get('description')}"
            buttons = buttons or [f"Pay {total}"]
        body = text.replace("\n", "\n          ")
        self.say(f"  bot → {self.names[user_id]}: {body}")
        if buttons:
            self.say(f"          [{'] ['.join(buttons)}]")

    @property
    def owner_id(self) -> int:
        return self.run.services.settings.owner_ids[0]

    async def advance(self, seconds: float) -> dict[str, Any]:
        """Move the clock; the crowd's visits up to the new time are then recorded."""
        moved = await self.client.advance_clock(seconds)
        await self.crowd.catch_up(
            self.run.services, now=self.run.services.clock.now(), cashier=SANDBOX_CASHIER_ID
        )
        return moved

    async def step(self, title: str, action: Step) -> None:
        self.steps += 1
        self.say(f"\n{self.steps}. {title}")
        try:
            await action(self)
        except (StepFailed, SandboxError, KeyError, TimeoutError) as exc:
            self.failures.append(f"{title}: {exc}")
            self.say(f"  ✗ FAILED: {exc}")
        else:
            self.say("  ✓")

    async def text(self, user_id: int, text: str, expect: str) -> Message:
        self.say(f"  {self.names[user_id]}: {text}")
        reply = await self.client.say(user_id, text)
        self.show(user_id, reply)
        expect_in(reply, expect)
        return reply

    async def tap(self, user_id: int, message: Message, label: str, expect: str) -> Message:
        shown = next((b for b in labels(message) if label in b), label)
        self.say(f"  {self.names[user_id]} taps [{shown}]")
        before = await self.client.inbox(user_id)
        await self.client.press(user_id, message["message_id"], button_data(message, label))

        def changed(messages: list[Message]) -> bool:
            if len(messages) > len(before):
                return True
            return any(m.get("edited") and m not in before for m in messages)

        messages = await self.client.wait_for(user_id, changed)
        reply = messages[-1] if len(messages) > len(before) else _edited(messages, before)
        self.show(user_id, reply)
        expect_in(reply, expect)
        return reply


def labels(message: Message) -> list[str]:
    return [
        str(button["text"])
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
        for button in row
    ]


def invoice_total(message: Message) -> str:
    """An invoice's total as Telegram shows it (in English: the demo's narrator)."""
    invoice = message.get("invoice") or {}
    currency = str(invoice.get("currency") or "USD")
    places = get_currency_precision(currency)
    amount = Decimal(int(invoice.get("total_amount") or 0)).scaleb(-places)
    return format_money(amount, currency, "en")


def _edited(messages: list[Message], before: list[Message]) -> Message:
    for message in messages:
        if message.get("edited") and message not in before:
            return message
    raise StepFailed("no edited message")


def expect_in(message: Message, expected: str) -> None:
    text = str(message.get("text") or message.get("caption") or "")
    if expected not in text:
        raise StepFailed(f"expected {expected!r} in {text!r}")


async def dana_starts(story: Story) -> None:
    welcome = await story.text(DANA, "/start", "no sign-up form")
    await story.tap(DANA, welcome, "How it works", "you are a member")


async def li_na_starts(story: Story) -> None:
    await story.text(LI_NA, "/start", "无需注册")


async def chen_ming_chooses_traditional(story: Story) -> None:
    client = story.client
    menu = await story.text(CHEN_MING, "/language", "請選擇語言")
    await story.tap(CHEN_MING, menu, "繁體中文", "語言已設為：繁體中文")
    await story.text(CHEN_MING, "/help", "我可以為您做這些")
    commands = await client.commands(CHEN_MING)
    if not any(c["description"] == "切換語言" for c in commands):
        raise StepFailed(f"command menu not in Traditional Chinese: {commands}")
    story.say("  menu: " + ", ".join(f"/{c['command']} {c['description']}" for c in commands))


async def dana_switches_to_simplified(story: Story) -> None:
    menu = await story.text(DANA, "/language", "Choose your language")
    await story.tap(DANA, menu, "简体中文", "语言已设为：简体中文")
    await story.text(DANA, "/help", "我可以为您做这些")


async def staff_say_hello(story: Story) -> None:
    owner_id = story.owner_id
    await story.text(SANDBOX_CASHIER_ID, "/start", "signed in as cashier")
    await story.text(owner_id, "/help", "signed in as owner")


async def redelivery_has_no_effect(story: Story) -> None:
    client = story.client
    before = len(await client.inbox(DANA))
    story.say("  Dana: /help")
    update_id = await client.send(DANA, "/help")
    await client.reply_after(DANA, before)
    story.say("  (Dana's connection drops: Telegram hands the bot the same /help a second time)")
    await client.redeliver(update_id)
    await client.send(DANA, "/help")  # a fresh update, to know the redelivery was processed
    messages = await client.wait_for(DANA, lambda ms: len(ms) >= before + 2)
    await asyncio.sleep(0.3)
    messages = await client.inbox(DANA)
    if len(messages) != before + 2:
        raise StepFailed(f"expected 2 replies, got {len(messages) - before}")
    story.say("  Dana: /help")
    story.say("  Dana sees two answers, one for each /help she sent, not three")


async def nonsense_and_forged_code(story: Story) -> None:
    client = story.client
    await story.text(DANA, "what's good today?", "发送 /help")
    bot = await client.bot()
    link = f"https://t.me/{bot['username']}?start=t1x_forged_payload"
    story.say(f"  Dana scans a sticker someone put on the table: {link}")
    before = len(await client.inbox(DANA))
    await client.open(DANA, link)
    reply = await client.reply_after(DANA, before)
    story.show(DANA, reply)
    expect_in(reply, "二维码无效")


async def time_passes(story: Story) -> None:
    result = await story.advance(8 * 24 * 3600)
    jobs = result.get("jobs", {})
    removed = jobs.get("forget_old_updates", {}).get("removed", 0)
    story.say(f"  it is now {story.run.services.clock.now():%A %d %B %Y, %H:%M} UTC")
    story.say(f"  ({story.crowd.count()} members have come in so far)")
    if removed < 1:
        raise StepFailed("the scheduler did not forget week-old update ids")


async def dana_pays_at_table_7(story: Story) -> None:
    client = story.client
    run = story.run
    link = next(c["url"] for c in run.emulator.printed_codes() if c["label"].startswith("Table 7"))
    story.say(f"  Dana scans the sticker on table 7: {link}")
    before = len(await client.inbox(DANA))
    await client.open(DANA, link)
    welcome = await client.reply_after(DANA, before)
    story.show(DANA, welcome)
    expect_in(welcome, "7")
    prompt = await story.tap(DANA, welcome, "💳", "86")
    story.say("  Dana: 86,50")
    invoice = await client.say(DANA, "86,50")
    story.show(DANA, invoice)
    bill = invoice.get("invoice") or {}
    if bill.get("total_amount") != 8650:
        raise StepFailed(f"expected an invoice for 86.50, got {invoice}")
    before = len(await client.inbox(DANA))
    story.say("  Dana pays the invoice in Telegram")
    paid = await client.pay(DANA, invoice["message_id"])
    if not paid.get("paid"):
        raise StepFailed(f"payment failed: {paid}")
    messages = await client.wait_for(DANA, lambda ms: len(ms) >= before + 3)
    for message in messages[before:]:
        story.show(DANA, message)
    expect_in(messages[before], "86")
    del prompt


async def dana_comes_back_and_pays_at_the_counter(story: Story) -> None:
    await story.advance(6 * 24 * 3600)
    receipt, congratulation = await pays_at_the_counter(story, DANA, "55.20", replies=2)
    expect_in(receipt, "第2次到店")  # Dana chose 简体中文 earlier: visit #2
    expect_in(congratulation, "恭喜您升级为回头客")  # a second visit: a returning guest


async def pays_at_the_counter(
    story: Story, person: int, amount: str, *, replies: int
) -> list[Message]:
    """The cashier scans the member's card and records `amount`; what the member is told."""
    client, run = story.client, story.run
    member_id = await member_id_of(story, person)
    card = deep_link(run.emulator.username, run.services.signer.sign(CardPayload(member_id)))
    name = story.names[person]
    story.say(f"  the cashier scans {name}'s member card: {card}")
    before = len(await client.inbox(SANDBOX_CASHIER_ID))
    await client.open(SANDBOX_CASHIER_ID, card)
    shown = await client.reply_after(SANDBOX_CASHIER_ID, before)
    story.show(SANDBOX_CASHIER_ID, shown)
    expect_in(shown, name)
    confirm = await story.text(SANDBOX_CASHIER_ID, amount, amount)
    count = len(await client.inbox(person))
    await story.tap(SANDBOX_CASHIER_ID, confirm, "✅", f"Recorded for {name}")
    told = (await client.wait_for(person, lambda ms: len(ms) >= count + replies))[count:]
    for message in told:
        story.show(person, message)
    return told[:replies]


async def walk_in_claims_a_receipt(story: Story) -> None:
    client = story.client
    qr = await story.text(SANDBOX_CASHIER_ID, "/bill 120.40", "120.40")
    claim = str(qr.get("caption", "")).rsplit("\n", 1)[-1]
    story.say(f"  李娜 scans the receipt QR: {claim}")
    before = len(await client.inbox(LI_NA))
    await client.open(LI_NA, claim)
    messages = await client.wait_for(LI_NA, lambda ms: len(ms) >= before + 3)
    for message in messages[before:]:
        story.show(LI_NA, message)
    expect_in(messages[before], "120.40")
    again = len(await client.inbox(CHEN_MING))
    story.say("  陳明 scans the same receipt")
    await client.open(CHEN_MING, claim)
    used = await client.reply_after(CHEN_MING, again)
    story.show(CHEN_MING, used)
    expect_in(used, "已被領取")


async def member_id_of(story: Story, telegram_id: int) -> int:
    run = story.run
    async with run.services.session_factory() as session:
        member = await queries.get_member_by_telegram_id(session, telegram_id=telegram_id)
    if member is None or member.id is None:
        raise StepFailed(f"{story.names[telegram_id]} is not a member")
    return member.id


async def owner_gifts_dana_a_coupon(story: Story) -> None:
    client = story.client
    owner_id = story.owner_id
    dana = await member_id_of(story, DANA)
    before = len(await client.inbox(DANA))
    await story.text(owner_id, f"/gift {dana} twenty_off_100", "Gift sent")
    told = await client.reply_after(DANA, before)
    story.show(DANA, told)
    expect_in(told, "送您一份礼物")


async def dana_redeems_at_the_counter(story: Story) -> None:
    client = story.client
    wallet = await story.text(DANA, "/wallet", "减 US$20.00")
    qr = await story.tap(DANA, wallet, "使用", "代码")
    code = str(qr.get("caption", "")).split("代码 ", 1)[-1][:6]
    if not code.isdigit():
        raise StepFailed(f"no code in {qr}")
    await story.text(SANDBOX_CASHIER_ID, f"/redeem {code}", "Coupon:")
    confirm = await story.text(SANDBOX_CASHIER_ID, "126.50", "$106.50")
    dana_before = len(await client.inbox(DANA))
    await story.tap(SANDBOX_CASHIER_ID, confirm, "✅", "Redeemed")
    receipt = await client.reply_after(DANA, dana_before)
    story.show(DANA, receipt)
    expect_in(receipt, "已使用优惠券：减 US$20.00")
    again = await story.text(SANDBOX_CASHIER_ID, f"/redeem {code}", "No coupon has this code")
    del again


async def li_na_uses_a_coupon_in_chat(story: Story) -> None:
    client = story.client
    run = story.run
    owner_id = story.owner_id
    li_na = await member_id_of(story, LI_NA)
    gifted = len(await client.inbox(LI_NA))
    await story.text(owner_id, f"/gift {li_na} ten_off", "Gift sent")
    # the gift notice follows the owner's answer: wait for it, or the scan below may see it first
    await client.reply_after(LI_NA, gifted)
    link = next(c["url"] for c in run.emulator.printed_codes() if c["label"].startswith("Table 3"))
    before = len(await client.inbox(LI_NA))
    await client.open(LI_NA, link)
    welcome = await client.reply_after(LI_NA, before)
    story.show(LI_NA, welcome)
    await story.tap(LI_NA, welcome, "💳", "86")
    choice = await story.text(LI_NA, "86.50", "要使用优惠券吗")
    invoice = await story.tap(LI_NA, choice, "减 US$10.00", "")
    total = (invoice.get("invoice") or {}).get("total_amount")
    if total != 7650:
        raise StepFailed(f"expected an invoice for 76.50, got {invoice}")
    before = len(await client.inbox(LI_NA))
    await client.pay(LI_NA, invoice["message_id"])
    receipt = await client.reply_after(LI_NA, before)
    story.show(LI_NA, receipt)
    expect_in(receipt, "已使用优惠券：减 US$10.00")


async def say_yes_to_offers(story: Story, person: int) -> None:
    client = story.client
    for message in reversed(await client.inbox(person)):
        labels = [
            b["text"]
            for row in (message.get("reply_markup") or {}).get("inline_keyboard", [])
            for b in row
        ]
        yes = next((label for label in labels if label.startswith(("Yes", "好的"))), None)
        if yes is not None:
            await story.tap(person, message, yes, "")
            return
    raise StepFailed(f"no offers question for {story.names[person]}")


async def chen_ming_walks_in(story: Story) -> None:
    client = story.client
    qr = await story.text(SANDBOX_CASHIER_ID, "/bill 45.00", "45.00")
    claim = str(qr.get("caption", "")).rsplit("\n", 1)[-1]
    story.say(f"  陳明 scans the receipt QR: {claim}")
    before = len(await client.inbox(CHEN_MING))
    await client.open(CHEN_MING, claim)
    messages = await client.wait_for(CHEN_MING, lambda ms: len(ms) >= before + 3)
    story.show(CHEN_MING, messages[before])
    for person in (DANA, LI_NA, CHEN_MING):
        await say_yes_to_offers(story, person)


async def months_pass(story: Story) -> None:
    client = story.client
    run = story.run
    services = run.services
    dana = await member_id_of(story, DANA)
    for person, days in ((DANA, 12), (LI_NA, 30)):
        birthday = (services.clock.now() + timedelta(days=days)).date()
        async with services.session_factory() as session, session.begin():
            member = await session.get(Member, await member_id_of(story, person))
            assert member is not None
            member.birthday = birthday.replace(year=1990)  # what /profile would set
        story.say(f"  {story.names[person]}'s birthday is {birthday:%d %B}")
    story.say("  the clock moves 8 hours at a time; other members come and go meanwhile")
    before = {p: len(await client.inbox(p)) for p in (DANA, LI_NA, CHEN_MING)}
    for _ in range(3 * 75):
        await story.advance(8 * 3600)
    kinds: set[str] = set()
    for person, count in before.items():
        for message in (await client.inbox(person))[count:]:
            when = datetime.fromtimestamp(int(message["date"]), UTC)
            story.say(f"  {when:%Y-%m-%d %H:%M} UTC")
            story.show(person, message)
            text = str(message.get("text") or "")
            for kind, mark in (
                ("birthday", "生日快乐"),
                ("second visit", "期待您早日再來"),
                ("win-back", "想念您"),
                ("win-back", "有一阵子"),
            ):
                if mark in text:
                    kinds.add(kind)
    async with services.session_factory() as session:
        greeting = await session.scalar(
            select(OutboxMessage).where(
                col(OutboxMessage.member_id) == dana,
                col(OutboxMessage.dedupe_key).startswith("birthday:"),
            )
        )
    if greeting is not None and greeting.status == "holdout":
        story.say("  Dana fell in the birthday campaign's control group (10 %): recorded, not sent")
        kinds.add("birthday")
    missing = {"birthday", "second visit", "win-back"} - kinds
    if missing:
        raise StepFailed(f"no {', '.join(sorted(missing))} message in 75 days")


async def arrivals(
    story: Story, before: dict[int, int], mark: Callable[[str], bool]
) -> dict[int, str]:
    """What each diner received matching `mark`, moving the clock an hour at a time past
    quiet hours (at most half a day) until the outbox has nothing left for them."""
    client = story.client
    run = story.run
    found: dict[int, str] = {}
    for _ in range(14):
        await story.advance(3600)
        for person in DINERS:
            for message in (await client.inbox(person))[before[person] :]:
                text = str(message.get("text") or message.get("caption") or "")
                if mark(text) and person not in found:
                    found[person] = text
                    story.show(person, message)
        async with run.services.session_factory() as session:
            waiting = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(col(OutboxMessage.status).in_(("pending", "sending")))
            )
        if not waiting:
            break
    return found


async def a_week_later(story: Story) -> None:
    await story.advance(7 * 24 * 3600)
    story.say("  (the weekly limit on offers starts afresh)")
    (receipt,) = await pays_at_the_counter(story, DANA, "64.80", replies=1)
    expect_in(receipt, "第3次到店")


async def owner_adds_a_new_dish(story: Story) -> None:
    client = story.client
    owner_id = story.owner_id
    before = {p: len(await client.inbox(p)) for p in DINERS}
    await story.text(owner_id, "/newdish", "What is it called?")
    await story.text(owner_id, "Mapo tofu", "Describe it")
    await story.text(owner_id, "Silken tofu in a numbing chilli sauce.", "photo")
    tags = await story.text(owner_id, "/skip", "Which tastes")
    tags = await story.tap(owner_id, tags, "Spicy", "Which tastes")
    await story.tap(owner_id, tags, "Save and invite members", "is saved")
    got = await arrivals(story, before, lambda t: "Mapo tofu" in t)
    sent = await sent_count(story, "new_dish:")
    away = " and ".join(story.names[p] for p in DINERS if p not in got)
    story.say(f"  {sent} members invited in all; those gone for months are left alone")
    if away:
        story.say(f"  ({away}: not back since their first weeks)")
    if DANA not in got:
        raise StepFailed("Dana, back a week ago, was not invited")
    if sent < 5:
        raise StepFailed(f"a new dish reached {sent} members of a restaurant")


async def sent_count(story: Story, prefix: str) -> int:
    """Messages of a kind the outbox delivered."""
    async with story.run.services.session_factory() as session:
        sent = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(
                col(OutboxMessage.dedupe_key).startswith(prefix),
                col(OutboxMessage.status) == "sent",
            )
        )
    return int(sent or 0)


async def owner_broadcasts_to_one_tier(story: Story) -> None:
    client = story.client
    run = story.run
    owner_id = story.owner_id
    ids = {person: await member_id_of(story, person) for person in DINERS}
    async with run.services.session_factory() as session:
        rows = await session.execute(
            select(col(Member.id), col(Member.tier)).where(col(Member.id).in_(ids.values()))
        )
        tier_of = dict(rows.tuples().all())
    tiers = {person: tier_of[member_id] for person, member_id in ids.items()}
    tier = tiers[DANA]
    label = run.services.policy.tiers.display_name(tier, "en")
    story.say("  tiers: " + ", ".join(f"{story.names[p]} {t}" for p, t in tiers.items()))
    before = {p: len(await client.inbox(p)) for p in DINERS}
    picker = await story.text(owner_id, "/broadcast", "Who should receive it?")
    picker = await story.tap(owner_id, picker, label, f"tier: {label}")
    await story.tap(owner_id, picker, "Next: write the message", "Now send the message")
    text = "Friday is dumpling night: come early!"
    story.say(f"  {story.names[owner_id]}: {text}")
    count = len(await client.inbox(owner_id))
    await client.send(owner_id, text)
    messages = await client.wait_for(owner_id, lambda ms: len(ms) >= count + 3)
    preview, summary = messages[-2], messages[-1]
    story.show(owner_id, preview)
    story.show(owner_id, summary)
    await story.tap(owner_id, summary, "Send now", "Sending to")
    got = await arrivals(story, before, lambda t: t == text)
    outside = [story.names[p] for p in got if tiers[p] != tier]
    if outside:
        raise StepFailed(f"{', '.join(outside)} got it without being in the tier")
    async with run.services.session_factory() as session:
        counted = await session.execute(
            select(col(OutboxMessage.status), func.count())
            .where(col(OutboxMessage.dedupe_key).startswith("broadcast:"))
            .group_by(col(OutboxMessage.status))
        )
        statuses: dict[str, int] = dict(counted.tuples().all())
    sent, kept = statuses.get("sent", 0), statuses.get("holdout", 0)
    story.say(f"  sent to {sent} members of the tier; {kept} kept back as the control group")
    if DANA not in got and kept == 0:
        raise StepFailed("Dana, in the tier, did not get it")
    if sent < 3:
        raise StepFailed(f"a broadcast to a tier of a restaurant reached {sent} members")


async def owner_reads_the_stats(story: Story) -> None:
    client = story.client
    owner_id = story.owner_id
    before = len(await client.inbox(owner_id))
    figures = await story.text(owner_id, "/stats", "Members gained")
    messages = await client.wait_for(owner_id, lambda ms: len(ms) >= before + 2)
    chart = messages[before + 1]
    photo = chart.get("photo") or {}
    png = await client.file(str(photo.get("file_id", "")))
    if not png.startswith(b"\x89PNG\r\n\x1a\n"):
        raise StepFailed("the chart is not a PNG")
    story.say(
        f"  bot → {story.names[owner_id]}: [chart {photo.get('width')}×"
        f"{photo.get('height')} PNG, {len(png):,} bytes] {chart.get('caption')}"
    )
    if "Visits: 0 " in str(figures.get("text")):
        raise StepFailed("a restaurant with dozens of members had no visits in four weeks")


async def the_rest_of_the_year(story: Story) -> None:
    run = story.run
    dana = await member_id_of(story, DANA)
    story.say("  the clock moves a day at a time for 300 days")
    for _ in range(300):
        await story.advance(24 * 3600)
    async with run.services.session_factory() as session:
        rows = await session.execute(
            select(col(OutboxMessage.dedupe_key), col(OutboxMessage.status)).where(
                col(OutboxMessage.member_id) == dana,
                col(OutboxMessage.dedupe_key).startswith("birthday:"),
            )
        )
        greetings = sorted(rows.tuples().all())
    for key, status in greetings:
        story.say(f"  Dana's birthday greeting {key.split(':')[1]}: {status}")
    if len(greetings) != 2:
        raise StepFailed(f"Dana's birthday was greeted {len(greetings)} times in a year")


STEPS: list[tuple[str, Step]] = [
    ("Dana opens the bot for the first time", dana_starts),
    ("李娜's phone is in Simplified Chinese", li_na_starts),
    ("陳明 picks Traditional Chinese", chen_ming_chooses_traditional),
    ("Dana switches to Simplified Chinese", dana_switches_to_simplified),
    ("The cashier and the owner say hello", staff_say_hello),
    ("A message Telegram delivers twice is answered once", redelivery_has_no_effect),
    ("Small talk and a forged QR code", nonsense_and_forged_code),
    ("Eight days pass", time_passes),
    ("Dana scans table 7 and pays in the chat", dana_pays_at_table_7),
    ("Six days later Dana pays at the counter", dana_comes_back_and_pays_at_the_counter),
    ("A walk-in claims a receipt QR", walk_in_claims_a_receipt),
    ("The owner gifts Dana a coupon", owner_gifts_dana_a_coupon),
    ("Dana redeems it at the counter with a code", dana_redeems_at_the_counter),
    ("李娜 applies a coupon when paying in chat", li_na_uses_a_coupon_in_chat),
    ("陳明 walks in; all three say yes to offers", chen_ming_walks_in),
    ("Two and a half months pass: a birthday, a nudge, a win-back", months_pass),
    ("A week later Dana is back for dinner", a_week_later),
    ("The owner adds a new dish: invitations per tier", owner_adds_a_new_dish),
    ("The owner broadcasts to Dana's tier only", owner_broadcasts_to_one_tier),
    ("The owner reads /stats: figures and a chart", owner_reads_the_stats),
    ("The rest of the year: Dana's birthday comes round again, greeted once", the_rest_of_the_year),
]


async def _story(story: Story) -> dict[str, Any]:
    """Run the steps in order; the final counts."""
    for title, action in STEPS:
        await story.step(title, action)
    return await _final_counts(story)


async def _final_counts(story: Story) -> dict[str, Any]:
    client, run = story.client, story.run
    stats = await client.stats()
    async with run.services.session_factory() as session:
        people = await queries.count_users(session)
        processed = await queries.count_processed_updates(session)
        members = await queries.count_members(session)
        payments = await queries.count_payments(session)
    return {
        "people": people,
        "members": members,
        "payments": payments,
        "bot_messages": stats["calls"].get("sendMessage", 0),
        "bot_api_calls": sum(stats["calls"].values()),
        "remembered_update_ids": processed,
    }


async def run_demo(settings: Settings, *, quiet: bool = False) -> int:
    with tempfile.TemporaryDirectory(prefix="regulars-demo-") as tmp:
        settings = settings.model_copy(
            update={"data_dir": Path(tmp), "database_url": None, "owner_ids": ()}
        )
        async with sandbox(settings, port=0) as run, SandboxClient(run.url) as client:
            users = (await client.request("GET", "/sandbox/users"))["users"]
            names = {int(u["id"]): str(u["first_name"]) for u in users}
            crowd = Crowd.around(run.services.clock.now())
            await crowd.introduce(client)
            await crowd.catch_up(
                run.services, now=run.services.clock.now(), cashier=SANDBOX_CASHIER_ID
            )
            await client.advance_clock(60)  # the nightly refresh grades their histories
            story = Story(run, client, names, crowd=crowd, quiet=quiet)
            story.say(f"Regulars demo — sandbox at {run.url}, store {run.services.store.name!r}")
            story.say(
                f"  {crowd.count()} members have been coming for a few months; three people "
                "are about to meet the bot"
            )
            counts = await _story(story)
    print("\nfinal counts: " + ", ".join(f"{k}={v}" for k, v in counts.items()))
    if story.failures:
        print(f"{len(story.failures)} of {story.steps} steps failed:", file=sys.stderr)
        for failure in story.failures:
            print(f"  - {failure}", file=sys.stderr)
        return 1
    print(f"all {story.steps} steps passed")
    return 0
